"""The last minutes of a box's capture, asked for with a diagnostics command (docs/install.md,
"Diagnostics from afar"): the box posts it to a one-time address the command carries; it is
checked, kept encrypted for KEPT_DAYS, and read by community admins and the platform operator
(every read audited). Raw waveforms are asked for only with every resident's recorded consent
(work/consent.py, RAW_WAVEFORMS); without it the box withholds them itself
(gateway/delivery/diagnostic_capture.py).

The address is the command's number and an HMAC of it under the server's secret key: nothing to
store, nothing a box can guess for another box's command. It takes one capture, within
UPLOAD_WITHIN of the command, of at most MAX_UPLOAD bytes that open as capture lines (gzip'd
JSON lines; at most MAX_UNPACKED once opened: a small bomb cannot fill the server's memory)."""

from __future__ import annotations

import gzip
import hmac
import io
import json
import zlib
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.crypto import salted_hmac

from eldergate.community.models import BoxCommand, DiagnosticCapture, Gateway
from eldergate.community.models.audit import record
from eldergate.community.models.crypto import open_bytes, seal_bytes
from eldergate.community.work import consent
from eldergate.contract.bounds import MAX_CAPTURE_BYTES

MAX_UPLOAD = MAX_CAPTURE_BYTES  # gzip'd, as the box keeps it
MAX_UNPACKED = 128 << 20
UPLOAD_WITHIN = timedelta(minutes=30)
KEPT_DAYS = 7
_SALT = "eldergate.community.diagnostic-capture"


class Refused(Exception):
    """An upload not taken: the message says why (answered as it is, with ``status``)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def token(cmd_pk: int) -> str:
    return salted_hmac(_SALT, str(cmd_pk), algorithm="sha256").hexdigest()[:40]


def upload_url(cmd: BoxCommand, public_url: str) -> str:
    return public_url + reverse("capture-upload", args=[cmd.pk, token(cmd.pk)])


def raw_waveforms_refused(gateway: Gateway, at: datetime) -> str | None:
    """Why this box's raw waveforms may not be asked for now (None: every resident of its home
    has a live consent to share them)."""
    residents = list(gateway.home.residents.values_list("pk", flat=True)) if gateway.home is not None else []
    if not residents:
        return "raw waveforms need their resident's consent, and this box is in no resident's home"
    given = consent.live(residents, consent.RAW_WAVEFORMS, at)
    missing = [pk for pk in residents if pk not in given]
    if missing:
        return (f"raw waveforms need every resident's recorded consent ({consent.RAW_WAVEFORMS}): none for "
                f"resident {', '.join(map(str, missing))}")
    return None


def receive(cmd_pk: int, given_token: str, body: bytes, span_s: float, now: datetime) -> DiagnosticCapture:
    """Check and keep a box's upload; raises Refused."""
    if not hmac.compare_digest(given_token.encode(), token(cmd_pk).encode()):
        raise Refused(404, "no such upload address")
    cmd = BoxCommand.objects.filter(pk=cmd_pk, command="diagnostics").exclude(capture="").first()
    if cmd is None:
        raise Refused(404, "no such upload address")
    if now - cmd.created_at > UPLOAD_WITHIN:
        raise Refused(410, "this upload address has expired")
    if len(body) > MAX_UPLOAD:
        raise Refused(413, f"a capture is at most {MAX_UPLOAD} bytes")
    meta = _check(body)
    raw = meta.get("raw_waveforms") is True
    if raw and cmd.capture != "raw_waveforms":
        raise Refused(422, "this capture holds raw waveforms, which were not asked for")
    try:
        with transaction.atomic():
            up = DiagnosticCapture.objects.create(command=cmd, received_at=now, raw_waveforms=raw, size=len(body),
                                                  span_s=max(0.0, min(span_s, 86_400.0)), sealed=seal_bytes(body))
            record(now, "box", "capture_received", cmd.gateway, command=cmd.pk, size=len(body), raw_waveforms=raw)
    except IntegrityError:
        raise Refused(409, "this command's capture has been received already") from None
    return up


def _check(body: bytes) -> dict[str, Any]:
    """The capture's meta line, once every line has been read as a capture line."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
            first = fh.readline(1 << 16)
            meta = json.loads(first).get("meta")
            if not isinstance(meta, dict):
                raise Refused(400, "not a capture: its first line is no meta line")
            unpacked = len(first)
            while line := fh.readline(1 << 20):
                unpacked += len(line)
                if unpacked > MAX_UNPACKED:
                    raise Refused(413, f"a capture opens to at most {MAX_UNPACKED} bytes")
                item = json.loads(line)
                if not isinstance(item, dict) or not isinstance(item.get("t"), int | float):
                    raise Refused(400, "not a capture: a line without its time")
            return meta
    except (OSError, EOFError, zlib.error, ValueError, AttributeError) as err:
        raise Refused(400, f"not a gzip'd capture ({type(err).__name__})") from None


def read(up: DiagnosticCapture, by: Any, now: datetime) -> bytes | None:
    """The capture as the box sent it (gzip'd); audited. None when the data key cannot open it."""
    body = open_bytes(up.sealed)
    record(now, by, "capture_read", up.command.gateway, command=up.command_id, raw_waveforms=up.raw_waveforms)
    return body


def prune(now: datetime) -> int:
    return int(DiagnosticCapture.objects.filter(received_at__lt=now - timedelta(days=KEPT_DAYS)).delete()[0])
