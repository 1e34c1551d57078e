"""``eldergate check-config``: what the installer needs to see, no secrets, no names."""

from __future__ import annotations

from pathlib import Path

from eldergate.config.schema import Config
from eldergate.config.secrets import SecretError, read_secret


def _secret_state(file: Path | None, env: str | None, inline: bool = False) -> str:
    if inline:
        return "inline (consider notify_file)"
    if file is None and env is None:
        return "none"
    try:
        read_secret(file, env)
    except SecretError as err:
        return f"NOT READABLE — {err}"
    return f"readable from {'file ' + str(file) if file else 'env ' + str(env)}"


def report(cfg: Config) -> str:
    g = cfg.gateway
    lines = [f"configuration OK: gateway {g.site}/{g.id}, time zone {g.timezone}, state in {g.state_dir}"]
    for r in cfg.residents:
        th = r.thresholds
        lines.append(f"resident {r.id}: {len(r.contacts)} contact(s), night {th.night_start:%H:%M}–"
                     f"{th.night_end:%H:%M}, heart rate {th.heart_rate_min_bpm:.0f}–{th.heart_rate_max_bpm:.0f} bpm")
        for c in r.contacts:
            state = _secret_state(c.notify_file, c.notify_env, inline=c.notify is not None)
            lines.append(f"  contact ({c.role}): address {state}")
    lines.append("rooms: " + ", ".join(r.id for r in cfg.rooms))
    for s in cfg.sensors:
        link = (f"serial {s.serial.port}" + (f" @ {s.serial.baud}" if s.serial.baud else "")
                if s.serial else f"mqtt {s.mqtt.topic}" if s.mqtt else "?")
        lines.append(f"sensor {s.id}: {s.protocol} as {s.role} in {s.room}, {link}")
    if cfg.uplink is not None:
        u = cfg.uplink
        host = u.broker_url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        auth = "client certificate" if u.cert_file else "username/password" if u.credentials_file else "none"
        lines.append(f"uplink: {u.broker_url.split('://')[0]}://{host}, MQTT {u.protocol}, auth {auth}")
        if u.credentials_file:
            lines.append(f"  credentials {_secret_state(u.credentials_file, None)}")
    else:
        lines.append("uplink: none (alerts stay local)")
    t = cfg.telemetry
    if t.enabled:
        lines.append(f"telemetry: {t.url} org {t.org} bucket {t.bucket}, token "
                     f"{_secret_state(t.token_file, t.token_env)}")
    else:
        lines.append("telemetry: off")
    return "\n".join(lines)
