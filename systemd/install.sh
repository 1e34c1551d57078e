#!/usr/bin/env bash
# Install eldergate on Raspberry Pi OS / Debian, or remove it.
#
#   sudo systemd/install.sh                 install from this source tree, enable the service
#   sudo systemd/install.sh --uninstall     remove program, unit, udev rule (keeps config and state)
#   sudo systemd/install.sh --purge         also remove /etc/eldergate and /var/lib/eldergate
#   DESTDIR=/tmp/root systemd/install.sh    stage into a throw-away root (no user, no systemctl)
#
# What it puts where: /opt/eldergate/venv (the program), /etc/systemd/system/eldergate.service,
# /etc/udev/rules.d/99-eldergate.rules, /usr/lib/sysusers.d/eldergate.conf,
# /etc/eldergate/home.toml (the example, only if there is none; 0640 root:eldergate),
# /etc/eldergate/secrets/ (0750). See docs/install.md.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PYTHON="${PYTHON:-python3}"
mode="install"
case "${1:-}" in
  --uninstall) mode="uninstall" ;;
  --purge) mode="purge" ;;
  "" ) ;;
  *) echo "usage: $0 [--uninstall|--purge]" >&2; exit 2 ;;
esac
live() { [ -z "$DESTDIR" ]; }   # acting on the real system (not a staging root)
say() { echo "eldergate install: $*"; }

if [ "$mode" != "install" ]; then
  if live && command -v systemctl >/dev/null; then systemctl disable --now eldergate.service 2>/dev/null || true; fi
  rm -rf "$DESTDIR/opt/eldergate"
  rm -f "$DESTDIR/etc/systemd/system/eldergate.service" "$DESTDIR/etc/udev/rules.d/99-eldergate.rules" \
        "$DESTDIR/usr/lib/sysusers.d/eldergate.conf"
  if [ "$mode" = "purge" ]; then
    rm -rf "$DESTDIR/etc/eldergate" "$DESTDIR/var/lib/eldergate"
    if live && id eldergate >/dev/null 2>&1; then userdel eldergate 2>/dev/null || true; fi
  fi
  if live && command -v systemctl >/dev/null; then systemctl daemon-reload || true; fi
  if live && command -v udevadm >/dev/null; then udevadm control --reload || true; fi
  say "removed${mode/purge/ (with configuration and state)}${mode/uninstall/ (configuration and state kept)}"
  exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "eldergate needs Python 3.11 or newer" >&2; exit 1
fi
install -d -m 0755 "$DESTDIR/opt/eldergate" "$DESTDIR/etc/systemd/system" "$DESTDIR/etc/udev/rules.d" \
  "$DESTDIR/usr/lib/sysusers.d"
say "creating the virtual environment in /opt/eldergate/venv"
"$PYTHON" -m venv "$DESTDIR/opt/eldergate/venv"
"$DESTDIR/opt/eldergate/venv/bin/python" -m pip install -q --upgrade pip
"$DESTDIR/opt/eldergate/venv/bin/python" -m pip install -q "$SRC"
install -m 0644 "$SRC/systemd/eldergate.service" "$DESTDIR/etc/systemd/system/eldergate.service"
install -m 0644 "$SRC/systemd/99-eldergate.rules" "$DESTDIR/etc/udev/rules.d/99-eldergate.rules"
install -m 0644 "$SRC/systemd/eldergate.sysusers" "$DESTDIR/usr/lib/sysusers.d/eldergate.conf"

group="root"
if live; then
  if command -v systemd-sysusers >/dev/null; then systemd-sysusers /usr/lib/sysusers.d/eldergate.conf
  elif ! id eldergate >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/eldergate --shell /usr/sbin/nologin --groups dialout,audio eldergate
  fi
  group="eldergate"
fi
install -d -m 0750 -o root -g "$group" "$DESTDIR/etc/eldergate" "$DESTDIR/etc/eldergate/secrets"
if [ ! -e "$DESTDIR/etc/eldergate/home.toml" ]; then
  install -m 0640 -o root -g "$group" "$SRC/config/example.toml" "$DESTDIR/etc/eldergate/home.toml"
  say "example configuration in /etc/eldergate/home.toml: edit it, then: eldergate check-config /etc/eldergate/home.toml"
else
  say "keeping the existing /etc/eldergate/home.toml"
fi
if live; then
  command -v udevadm >/dev/null && { udevadm control --reload || true; udevadm trigger --subsystem-match=tty || true; }
  if command -v systemctl >/dev/null; then
    systemctl daemon-reload
    systemctl enable eldergate.service
    say "enabled; start with: systemctl start eldergate (after editing the configuration)"
  fi
fi
say "installed $("$DESTDIR/opt/eldergate/venv/bin/eldergate" --version)"
