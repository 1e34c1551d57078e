from django.contrib import admin
from django.contrib.staticfiles.views import serve as static_serve
from django.urls import path, re_path

from eldergate.community.api.app import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # the admin's own CSS and scripts, for the embedded one-process server (a proxy serves them in production)
    re_path(r"^static/(?P<path>.*)$", static_serve, {"insecure": True}),
]
