# Shared by scripts/demo and scripts/test: a virtual environment with eldergate installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ELDERGATE_VENV:-$ROOT/.venv}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {  # apt_install PACKAGE... : installs the ones that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing from Debian's packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {  # ensure_venv [EXTRAS]
  local extras="${1:-}"
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "eldergate needs Python 3.11 or newer (found $(python3 --version 2>&1))" >&2; exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$VENV"; }
  fi
  local stamp="$VENV/.eldergate-installed${extras:+-$extras}"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ -n "$(find "$ROOT"/{gateway,drivers,signal,config,contract,community} -newer "$stamp" -name '*.py' -print -quit)" ]; then
    echo "installing eldergate${extras:+ with [$extras]} into $VENV (the first time takes a minute)..."
    local log="$VENV/install.log"
    # strict editable mode: a link tree that mypy can follow (docs/architecture.md)
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel &&
           "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}" --config-settings editable_mode=strict; } \
         >"$log" 2>&1; then
      cat "$log" >&2; echo "installation failed (log: $log)" >&2; exit 1
    fi
    touch "$stamp"
  fi
}
