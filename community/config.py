"""The community server's configuration (``community.toml``), checked before anything starts.

Every section has a default, so ``eldergate community serve`` with no file runs one community on
SQLite in the current folder against a broker on 127.0.0.1:1883. Errors name the field; the CLI
turns them into exit 2. Secrets (Django's secret key, the key that encrypts medical notes, the
broker password) come from files or the environment, never from the file itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time as dtime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Target = Literal["assigned", "duty", "community-admin", "relatives"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(Strict):
    after_s: float = Field(ge=0, description="seconds after the alert reached the server")
    to: Target


def _ladder(*steps: tuple[float, Target]) -> list[Step]:
    return [Step(after_s=a, to=t) for a, t in steps]


class Escalation(Strict):
    # who is told, and when, per severity; "offline" is the ladder of a home that went silent
    ladders: dict[str, list[Step]] = Field(default_factory=lambda: {
        "critical": _ladder((0, "assigned"), (120, "duty"), (300, "community-admin"), (600, "relatives")),
        "warning": _ladder((0, "assigned"), (900, "duty"), (1800, "community-admin")),
        "info": [],
        "offline": _ladder((0, "assigned"), (1800, "community-admin")),
    })
    night_ladders: dict[str, list[Step]] = Field(default_factory=lambda: {
        "critical": _ladder((0, "duty"), (0, "assigned"), (180, "community-admin"), (300, "relatives")),
    }, description="used instead of `ladders` for a severity during the night hours")
    night: str = Field("22:00-07:00", description="HH:MM-HH:MM, local time")
    remind_every_s: float = Field(900, ge=0, description="after the last step, remind the last target "
                                                           "until someone acknowledges (0: never)")
    snooze_max_hours: float = Field(24, gt=0, le=24 * 30, description="the longest a home may page nobody "
                                    "(a snooze: 'in hospital'); a longer absence is the home's installation mode")

    @field_validator("ladders", "night_ladders")
    @classmethod
    def _known(cls, v: dict[str, list[Step]]) -> dict[str, list[Step]]:
        bad = set(v) - {"critical", "warning", "info", "offline"}
        if bad:
            raise ValueError(f"unknown ladder {sorted(bad)}: use critical, warning, info or offline")
        return v

    @field_validator("night")
    @classmethod
    def _hours(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("expected HH:MM-HH:MM, e.g. 22:00-07:00")
        return v

    def night_span(self) -> tuple[dtime, dtime]:
        a, b = self.night.split("-")
        return dtime.fromisoformat(a), dtime.fromisoformat(b)


class Offline(Strict):
    grace_s: float = Field(120, gt=0, description="a last will 'offline' older than this raises home_offline")
    silence_s: float = Field(600, gt=0, description="no message at all for this long raises home_offline "
                                                    "(a half-open connection defeats the will)")
    test_every_days: float = Field(30, ge=0, description="automatic test_alert round trip per home (0: never)")


class Retention(Strict):
    """Days each class of data is kept (PIPL Art. 19: the shortest necessary; Art. 55-56: records of
    processing >= 3 years)."""

    vitals_minutes: int = Field(30, gt=0)
    events: int = Field(365, gt=0)
    summaries: int = Field(365, gt=0)
    alerts: int = Field(1095, gt=0)
    audit: int = Field(1095, ge=1095)


class Ingest(Strict):
    """What one gateway may cost the ingest (docs/contract.md, "Limits"): beyond it, its own
    messages are refused and counted, never anyone else's."""

    max_payload_bytes: int = Field(65_536, ge=1_024, le=1_048_576, description="larger messages are refused")
    past_days: float = Field(30, gt=0, description="telemetry dated further back is dead-lettered (a box "
                                                   "offline for weeks still delivers its record)")
    future_s: float = Field(300, ge=0, description="anything dated further ahead than this is refused as "
                                                   "telemetry; an alert's times are clamped instead")
    alerts_per_s: float = Field(1, gt=0, description="per gateway, sustained (an honest box raises a few a day)")
    alerts_burst: int = Field(100, ge=1, description="per gateway: the unconfirmed alerts a box replays at once")
    telemetry_per_s: float = Field(20, gt=0, description="per gateway: events, vitals, summaries, status")
    telemetry_burst: int = Field(600, ge=1)
    bytes_per_s: float = Field(262_144, gt=0, description="per gateway, all leaves")
    bytes_burst: int = Field(4_194_304, ge=65_536)
    new_gateways_per_minute: int = Field(60, ge=1, description="unknown gateways quarantined per minute at most")
    dead_letters_per_gateway: int = Field(1_000, ge=1, description="kept rows per gateway; further ones are counted")
    queue: int = Field(50_000, ge=100, description="messages waiting to be stored, at most (the broker holds more)")
    behind_s: float = Field(60, gt=0, description="health fails when a waiting message is older than this")


class Broker(Strict):
    url: str = "mqtt://127.0.0.1:1883"
    prefix: str = "eldergate/v1"
    client_id: str = "eldergate-community"
    credentials_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = Field(None, description="the server's client certificate, where the broker asks for one")
    key_file: Path | None = None
    identities: Literal["none", "dynsec", "nats"] = Field(
        "none", description="dynsec: the server gives Mosquitto's dynamic security plugin every box identity "
                            "(claims, revocations); nats: `identities nats-users` writes the NATS cluster's users "
                            "file; none: the broker does not check who a box is (loopback, tests)")
    shared: bool = Field(False, description="several ingest processes share the subscription ($share/)")
    protocol: Literal["v5", "v311"] = Field("v5", description="v311 for a NATS cluster's MQTT side")
    fallback_urls: list[str] = Field(default_factory=list,
                                     description="the cluster's other nodes, tried in turn when `url` is down")
    nats_urls: list[str] = Field(default_factory=list, description="nats://HOST:PORT of a NATS cluster: ingest "
                                 "then reads a JetStream stream through a shared durable consumer")
    stream_replicas: int = Field(3, ge=1, le=5, description="JetStream replicas of the gateways' stream")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _broker_url(v, ("mqtt", "mqtts"))

    @field_validator("fallback_urls")
    @classmethod
    def _fallbacks(cls, v: list[str]) -> list[str]:
        return [_broker_url(u, ("mqtt", "mqtts")) for u in v]

    @field_validator("nats_urls")
    @classmethod
    def _nats(cls, v: list[str]) -> list[str]:
        return [_broker_url(u, ("nats", "tls")) for u in v]

    @model_validator(mode="after")
    def _nats_speaks_311(self) -> Broker:
        if self.nats_urls and self.protocol != "v311":
            raise ValueError("protocol: a NATS cluster speaks MQTT 3.1.1 only; set protocol = \"v311\"")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.identities == "dynsec" and self.credentials_file is None:
            raise ValueError("identities: \"dynsec\" needs the server's own credentials_file "
                             "(eldergate community broker init writes it)")
        for name in ("credentials_file", "ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: {path} does not exist")
        return self

    def mqtt_urls(self) -> list[str]:
        return [self.url, *self.fallback_urls]


def _broker_url(v: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(v)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(" or ".join(f"{s}://HOST:PORT" for s in schemes) + f" expected, not {v!r}")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as err:
        raise ValueError(f"bad port: {err}") from None
    return v


class Server(Strict):
    listen: str = "127.0.0.1:8000"
    database: str = Field("sqlite:///eldergate-community.sqlite3",
                          description="sqlite:///PATH (relative to data_dir) or postgresql://USER@HOST:PORT/DB")
    data_dir: Path = Path(".")
    public_url: str = Field("", description="the address people open (links in pushes); default http://<listen>")
    time_zone: str = "Asia/Shanghai"
    language: Literal["zh-hans", "en"] = "zh-hans"
    secret_key_file: Path | None = None
    secret_key_env: str | None = None
    data_key_file: Path | None = Field(None, description="Fernet key that encrypts medical notes")
    data_key_env: str | None = None
    behind_proxy: bool = Field(False, description="reached only through the reverse proxy that terminates TLS "
                               "(deploy/nginx-community.conf): trust its X-Forwarded-Proto, send cookies as Secure")
    allowed_hosts: list[str] = Field(default_factory=list, description="more names the server answers to "
                                     "(besides public_url's, listen's and loopback), e.g. its LAN address")
    max_streams: int = Field(500, ge=1, le=100_000, description="open wall screens (live streams) this process "
                             "serves at most; past it a screen says 'too many screens'")
    max_streams_per_viewer: int = Field(10, ge=1, le=100_000, description="open streams per wall key or user")
    db_pool_size: int = Field(20, ge=2, le=500, description="PostgreSQL connections this process opens at most")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8000")
        return v

    @field_validator("database")
    @classmethod
    def _db(cls, v: str) -> str:
        scheme = urlsplit(v).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        return v

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai)") from None
        return v

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Fleet(Strict):
    """Software updates for the boxes (docs/deploy-city.md, "Software updates")."""

    release_public_key_file: Path | None = Field(None, description="the release key's public half (PEM): "
                                                 "`community release add` refuses a bundle it did not sign")
    releases_dir: Path = Field(Path("releases"), description="where the added bundles are kept and served from "
                               "(relative to data_dir)")


class CommunityConfig(Strict):
    server: Server = Server()
    broker: Broker = Broker()
    escalation: Escalation = Escalation()
    offline: Offline = Offline()
    retention: Retention = Retention()
    ingest: Ingest = Ingest()
    fleet: Fleet = Fleet()

    @model_validator(mode="after")
    def _secrets_exist(self) -> CommunityConfig:
        for name in ("secret_key_file", "data_key_file"):
            path = getattr(self.server, name)
            if path is not None and not self.resolve(path).is_file():
                raise ValueError(f"server.{name}: {path} does not exist")
        for name in ("secret_key_env", "data_key_env"):
            var = getattr(self.server, name)
            if var is not None and not os.environ.get(var):
                raise ValueError(f"server.{name}: the environment variable {var} is not set")
        return self

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.server.data_dir / path

    def public_url(self) -> str:
        return (self.server.public_url or f"http://{self.server.listen}").rstrip("/")


class CommunityConfigError(Exception):
    """A configuration that cannot work; the message names the field."""


def parse(text: str, data_dir: Path | None = None) -> CommunityConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CommunityConfigError(f"not valid TOML: {err}") from None
    if data_dir is not None:
        raw.setdefault("server", {}).setdefault("data_dir", str(data_dir))
    try:
        return CommunityConfig.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(file)"
            lines.append(f"{where}: {e['msg']}")
        raise CommunityConfigError("; ".join(lines)) from None


def load(path: Path | None) -> CommunityConfig:
    """The file at ``path`` (its folder is the data folder unless it says otherwise), or the defaults."""
    if path is None:
        return parse("", Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CommunityConfigError(f"cannot read {path}: {err.strerror}") from None
    return parse(text, path.resolve().parent)


def with_overrides(cfg: CommunityConfig, db: str | None = None, broker: str | None = None,
                   listen: str | None = None) -> CommunityConfig:
    """Command-line flags win over the file; checked like the file."""
    raw = cfg.model_dump(mode="json")
    if db is not None:
        raw["server"]["database"] = db
    if broker is not None:
        raw["broker"]["url"] = broker
    if listen is not None:
        raw["server"]["listen"] = listen
    try:
        return CommunityConfig.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        raise CommunityConfigError(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") from None


_active: CommunityConfig | None = None


def activate(cfg: CommunityConfig) -> None:
    """The configuration Django's settings module reads (set once, before django.setup())."""
    global _active
    _active = cfg


def active() -> CommunityConfig:
    if _active is None:
        env = os.environ.get("ELDERGATE_COMMUNITY_CONFIG")
        return load(Path(env)) if env else load(None)
    return _active
