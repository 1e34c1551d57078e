"""The Django admin for the platform operator (admin_site.py): the registry, users' roles, duty shifts,
consents.
Medical notes appear decrypted only on a resident's own page, and opening it is an audit entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from eldergate.community.models import (
    AuditEntry,
    Community,
    Consent,
    Contact,
    DutyShift,
    Gateway,
    Home,
    Profile,
    Resident,
    Snooze,
    Street,
)
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import decrypt

MEDICAL = ("medical_history", "medications", "allergies")


class ContactInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Contact
    extra = 1


class ConsentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Consent
    extra = 0


class ResidentForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Resident
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in MEDICAL:  # shown in clear; saved encrypted again (EncryptedTextField)
            if name in self.initial:
                self.initial[name] = decrypt(str(self.initial[name] or ""))


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ResidentForm
    inlines = (ContactInline, ConsentInline)
    list_display = ("pk", "name", "home", "resident_id", "grid_worker")
    search_fields = ("name", "resident_id")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            record(timezone.now(), request.user, "medical_read", obj, via="admin")
        return obj


class HomeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Home
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "key_safe" in self.initial:
            self.initial["key_safe"] = decrypt(str(self.initial["key_safe"] or ""))


@admin.register(Home)
class HomeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = HomeForm
    list_display = ("pk", "address", "building", "unit", "house_number", "community", "mode")
    list_filter = ("community", "mode")


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("site", "gateway", "home", "status", "last_seen", "version", "last_test_ok")
    list_filter = ("status",)


@admin.register(AuditEntry)
class AuditAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("at", "actor_name", "action", "object_type", "object_id")
    list_filter = ("action",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


for model in (Street, Community, Profile, DutyShift, Snooze):
    admin.site.register(model)
