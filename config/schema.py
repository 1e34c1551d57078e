"""The configuration file, as pydantic models.

One TOML file describes a home. Every model forbids unknown keys so a misspelt key is an
error that names its path, never a silently ignored setting. Defaults live here and only
here. Secrets are never values in this file: they are paths to files (``*_file``) or
names of environment variables (``*_env``), read by :mod:`eldergate.config.secrets`.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from eldergate.drivers.protocols import PROTOCOLS

Role = Literal["bed_radar", "room_radar", "presence", "door", "gas", "smoke", "sos", "water_leak"]
ContactRole = Literal["grid_worker", "relative", "volunteer", "duty_desk"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$")
_UNIT_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration(value: object) -> object:
    """Accept seconds as a number or a string like "90s", "15min", "2h", "1d"."""
    if isinstance(value, bool):
        return value  # let pydantic refuse it as a float
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15min, 2h)")
        return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    return value


def _positive(v: float) -> float:
    if v <= 0:
        raise ValueError("must be greater than zero")
    return v


Seconds = Annotated[float, BeforeValidator(_parse_duration), AfterValidator(_positive)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- identity, people, places -----------------------------------------------------------


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from None
    return name


def _broker_url(url: str) -> str:
    """mqtt:// or mqtts://, a host, and a port that is a number (``88a3`` would crash the link later)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number from 1 to 65535") from None
    return url


BrokerUrl = Annotated[str, AfterValidator(_broker_url)]


def _language(v: object) -> object:
    return "zh-hans" if v == "zh" else v  # the box's earlier code for the same language


class GatewayIdentity(Strict):
    site: Identifier = Field(description="community or site id, part of every MQTT topic")
    id: Identifier = Field(description="this gateway's id, unique within the site")
    timezone: Annotated[str, AfterValidator(_known_timezone)] = "Asia/Shanghai"
    # where the home is, as a grid worker needs it to go there: in pushes only, never sent over MQTT
    address: str = ""
    # push texts; the community server's codes ("zh" is still read as "zh-hans")
    language: Annotated[Literal["zh-hans", "en"], BeforeValidator(_language)] = "zh-hans"
    state_dir: Path = Path("/var/lib/eldergate")


class Contact(Strict):
    name: str
    role: ContactRole
    phone: str = Field("", max_length=30)  # to call; shown, never dialled by the box
    # An Apprise URL (ntfy://, gotify://, wecombot://, dingtalk://, mailto://, json://...).
    # URLs usually carry a token, so they are secrets: inline, from a file or an env var.
    notify: SecretStr | None = None
    notify_file: Path | None = None
    notify_env: str | None = None

    @model_validator(mode="after")
    def _one_address(self) -> Contact:
        given = [x for x in (self.notify, self.notify_file, self.notify_env) if x is not None]
        if len(given) > 1:
            raise ValueError("give only one of notify, notify_file, notify_env")
        if not given:  # a contact nobody can reach would be skipped without a word at 3 a.m.
            raise ValueError("give the contact's address: one of notify, notify_file, notify_env")
        return self


class Thresholds(Strict):
    heart_rate_min_bpm: float = Field(40.0, gt=0)
    heart_rate_max_bpm: float = Field(120.0, gt=0)
    breathing_rate_min_bpm: float = Field(8.0, gt=0)
    breathing_rate_max_bpm: float = Field(28.0, gt=0)
    abnormal_vitals_after: Seconds = 120.0  # sustained this long before an event
    apnoea_after: Seconds = 20.0
    night_start: time = time(22, 0)
    night_end: time = time(6, 30)
    out_of_bed_at_night: Seconds = 30 * 60.0
    wandering_after: Seconds = 15 * 60.0  # front door opened at night, nobody back inside
    # out by day (signal/outings.py): the usual length is learned per part of the day from the
    # resident's own outings, between a floor and a ceiling; this until there are five to learn from
    outing_usual: Seconds = 2 * 3600.0
    outing_floor: Seconds = 30 * 60.0
    outing_ceiling: Seconds = 4 * 3600.0
    cold_below_c: float = Field(0.0, ge=-50, le=40)  # outdoors colder than this: not back sooner, urgent
    fall_confirm_after: Seconds = 45.0
    fall_cancel_window: Seconds = 30.0
    long_lie_after: Seconds = 20 * 60.0  # present, motionless, outside the bed
    inactivity_after: Seconds = 4 * 3600.0  # nobody seen in the daytime
    escalate_after: Seconds = 5 * 60.0

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.heart_rate_min_bpm >= self.heart_rate_max_bpm:
            raise ValueError("heart_rate_min_bpm must be below heart_rate_max_bpm")
        if self.breathing_rate_min_bpm >= self.breathing_rate_max_bpm:
            raise ValueError("breathing_rate_min_bpm must be below breathing_rate_max_bpm")
        if not self.outing_floor <= self.outing_usual <= self.outing_ceiling:
            raise ValueError("outing_floor <= outing_usual <= outing_ceiling is required")
        return self


class Resident(Strict):
    id: Identifier
    display_name: str
    birth_year: int = Field(ge=1900, le=2100)
    medical_notes: str = ""
    bedroom: Identifier | None = None
    at_risk_of_getting_lost: bool = False  # dementia, a past episode: "not back" in half the time, urgent
    contacts: list[Contact] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)


class Room(Strict):
    id: Identifier
    name: str
    kind: Literal["bedroom", "living_room", "kitchen", "bathroom", "hall", "other"] = "other"


# --- sensors -------------------------------------------------------------------------------


class SerialLink(Strict):
    port: str = Field(min_length=1, description="prefer /dev/serial/by-id/... for a stable name")
    baud: int | None = Field(None, gt=0, description="default: the protocol's usual rate")
    command_port: str | None = Field(None, description="TI only: the CLI port for the chirp config")
    chirp_config: Path | None = None


class MqttLink(Strict):
    topic: str = Field(min_length=1, description="e.g. zigbee2mqtt/front_door or rtl_433/pi/events")
    # rtl_433: which device on the shared events topic (ids are decimal in rtl_433's JSON)
    model: str | None = None
    device_id: int | str | None = None
    channel: int | None = None


class GasModule(Strict):
    """A serial gas module: what it measures, the scale of its counts, and when to alarm."""

    gas: str = "co"
    scale: float = Field(0.1, gt=0, description="units per count (ZE07-CO: 0.1 ppm)")
    unit: str = "ppm"
    alarm_above: float = Field(50.0, gt=0)


class Box(Strict):
    """An axis-aligned box in the radar's coordinates, metres."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    z_min: float = -10.0
    z_max: float = 10.0

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        for axis in "xyz":
            if getattr(self, f"{axis}_min") >= getattr(self, f"{axis}_max"):
                raise ValueError(f"{axis}_min must be below {axis}_max")
        return self

    def contains(self, x: float, y: float, z: float | None = None) -> bool:
        inside = self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max
        return inside and (z is None or self.z_min <= z <= self.z_max)


class Placement(Strict):
    mounting_height_m: float | None = Field(None, gt=0, le=6)
    bed_zone: Box | None = None
    # armchairs and sofas: someone still there is sitting, not lying on the floor (no long lie)
    chair_zones: list[Box] = Field(default_factory=list)
    # distance band (m) in which the bed radar sees a person lying in the bed
    bed_distance_m: tuple[float, float] | None = None
    front_door: bool = False


def _known_protocol(name: str) -> str:
    if name not in PROTOCOLS:  # the drivers' registry is the one list of protocols
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return name


ProtocolName = Annotated[str, AfterValidator(_known_protocol)]


class Sensor(Strict):
    id: Identifier
    protocol: ProtocolName
    role: Role
    room: Identifier
    resident: Identifier | None = None
    serial: SerialLink | None = None
    mqtt: MqttLink | None = None
    placement: Placement = Field(default_factory=Placement)
    check_in: Seconds | None = None  # silent longer than this: a supervision event
    gas: GasModule | None = None  # winsen-gas only
    # generic JSON mapping, for MQTT sensors of any vendor (see docs/configuration.md)
    mapping: list[JsonMapping] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_link(self) -> Sensor:
        if (self.serial is None) == (self.mqtt is None):
            raise ValueError("give exactly one link: [sensors.serial] or [sensors.mqtt]")
        info = PROTOCOLS[self.protocol]
        if info.link == "mqtt" and self.serial is not None:
            raise ValueError(f"protocol {self.protocol} arrives over MQTT: use [sensors.mqtt]")
        if info.link == "serial" and self.mqtt is not None:
            raise ValueError(f"protocol {self.protocol} is a serial protocol: use [sensors.serial]")
        for need in info.requires:
            given = bool(self.mapping) if need == "mapping" else getattr(self.mqtt, need, None) is not None
            if not given:
                where = "at least one [[sensors.mapping]] rule" if need == "mapping" else f"mqtt.{need}"
                raise ValueError(f"a {self.protocol} sensor needs {where}")
        return self


class JsonMapping(Strict):
    """``path`` picks a field ("$.alarm" or "$.state.gas"); ``equals`` turns it into a boolean."""

    path: str = Field(pattern=r"^\$(\.[A-Za-z0-9_]+)+$")
    reading: Literal["gas", "smoke", "carbon_monoxide", "water_leak", "sos", "contact", "battery", "presence"]
    equals: str | int | float | bool | None = None


# --- links to the outside ---------------------------------------------------------------


class LocalMqtt(Strict):
    """The home's own broker (Zigbee2MQTT, rtl_433 publish there)."""

    url: BrokerUrl = "mqtt://127.0.0.1:1883"
    credentials_file: Path | None = None
    protocol: Literal["v5", "v311"] = "v5"


class Uplink(Strict):
    """The community server's broker."""

    enabled: bool = True
    broker_url: BrokerUrl
    # the other nodes of a clustered broker (NATS): tried in turn when the current one cannot be reached
    fallback_urls: list[BrokerUrl] = Field(default_factory=list)
    # 0 on a NATS cluster: there every QoS 1 subscription is a JetStream consumer, which a city's
    # reconnect storm cannot create fast enough, and the server's NATS publishes arrive at QoS 0
    # anyway. Nothing is lost: every server message is repeated until the gateway confirms it.
    subscribe_qos: Literal[0, 1] = 1
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    credentials_file: Path | None = None
    # the community server's web address: a box without its credentials_file yet shows a claim code
    # and collects its credentials there once an installer has claimed it (docs/install.md)
    server_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    protocol: Literal["v5", "v311"] = "v5"
    heartbeat: Seconds = 60.0
    resend_after: Seconds = 30.0  # an alert without the server's receipt is sent again after this
    session_expiry: Seconds = 7 * 86400.0
    topic_prefix: str = "eldergate/v1"

    @model_validator(mode="after")
    def _tls_pairs(self) -> Uplink:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.server_url and self.credentials_file is None:
            raise ValueError("server_url (claiming) needs credentials_file: where the claimed credentials are kept")
        scheme = self.broker_url.split("://", 1)[0]
        if any(u.split("://", 1)[0] != scheme for u in self.fallback_urls):
            raise ValueError(f"fallback_urls: every node must be {scheme}:// like broker_url")
        return self


class Telemetry(Strict):
    enabled: bool = False
    url: str = Field("http://127.0.0.1:8086", pattern=r"^https?://")
    ca_file: Path | None = None  # the CA that signed an https:// InfluxDB's certificate (else the system's)
    org: str = "eldergate"
    bucket: str = "eldergate"
    token_file: Path | None = None
    token_env: str | None = None
    vitals_every: Seconds = 10.0
    spool_max_points: int = Field(200_000, gt=0)
    send_waveforms: bool = False


class Notifications(Strict):
    enabled: bool = True
    # a command run at once for a possible fall, e.g. a speaker asking "are you all right?"
    annunciator_command: list[str] = Field(default_factory=list)
    # Who pages the contacts when the home has a community server (docs/alert-lifecycle.md, "Who is
    # paged"): the server's ladder, and the box only while the server cannot be reached, i.e. when
    # an alert has no receipt after handover_after; "first_ring": the box also pages its first wave
    # (grid worker; relatives for a critical alert) at once, and the server's ladder skips them.
    # A home without an uplink pages everyone itself.
    box_pages: Literal["when_server_unreachable", "first_ring"] = "when_server_unreachable"
    handover_after: Seconds = 45.0


class Updates(Strict):
    """Software updates from the community server (docs/install.md, "Software updates")."""

    enabled: bool = False
    # the platform operator's release key (ed25519, PEM), installed with the box: only bundles it
    # signed are installed
    public_key_file: Path | None = None
    health_window: Seconds = 600.0  # a new release must prove healthy within this, or the box goes back
    confirm_after: Seconds = 60.0  # healthy this long (threads alive, uplink up) and a new release is kept
    max_starts: int = Field(3, ge=1, le=20)  # started this often without proving healthy: the box goes back

    @model_validator(mode="after")
    def _key(self) -> Updates:
        if self.enabled and self.public_key_file is None:
            raise ValueError("enabled updates need public_key_file: the release key the box trusts")
        if self.confirm_after >= self.health_window:
            raise ValueError("confirm_after must be shorter than health_window")
        return self


class Diagnostics(Strict):
    """The last minutes of what the sensors sent, kept in memory for a diagnostic capture the
    community server may ask for (docs/install.md, "Diagnostics from afar"); 0 MB keeps none."""

    capture_window: Seconds = 600.0
    capture_max_mb: float = Field(8.0, ge=0, le=64)


class HomeAssistant(Strict):
    """Entities in Home Assistant through MQTT discovery on the home's broker (optional)."""

    enabled: bool = False
    discovery_prefix: str = "homeassistant"


class StatusPage(Strict):
    enabled: bool = False
    bind: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)


class Config(Strict):
    gateway: GatewayIdentity
    residents: list[Resident] = Field(min_length=1)
    rooms: list[Room] = Field(min_length=1)
    sensors: list[Sensor] = Field(min_length=1)
    local_mqtt: LocalMqtt = Field(default_factory=LocalMqtt)
    uplink: Uplink | None = None
    telemetry: Telemetry = Field(default_factory=Telemetry)
    notifications: Notifications = Field(default_factory=Notifications)
    updates: Updates = Field(default_factory=Updates)
    diagnostics: Diagnostics = Field(default_factory=Diagnostics)
    status_page: StatusPage = Field(default_factory=StatusPage)
    home_assistant: HomeAssistant = Field(default_factory=HomeAssistant)

    def room_names(self) -> dict[str, str]:
        """Room id -> the room's name as people say it: the one name shown everywhere."""
        return {r.id: r.name for r in self.rooms}

    def resident_for(self, sensor: Sensor) -> Resident:
        rid = sensor.resident or self.residents[0].id
        return next(r for r in self.residents if r.id == rid)

    def sensor(self, sensor_id: str) -> Sensor:
        return next(s for s in self.sensors if s.id == sensor_id)


Sensor.model_rebuild()
