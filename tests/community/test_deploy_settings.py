"""`check --deploy` on the shipped production configuration (deploy/community.toml) finds nothing
(#32): Secure cookies, HSTS, SSL redirect, hosts named, the data key outside the data folder. The
embedded default's key beside the database is reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from testutil import ROOT, clean_env


def _check(config: Path) -> subprocess.CompletedProcess[str]:
    env = clean_env() | {"ELDERGATE_COMMUNITY_CONFIG": str(config),
                         "DJANGO_SETTINGS_MODULE": "eldergate.community.settings"}
    return subprocess.run([sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=config.parent)


def test_the_shipped_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "keys").mkdir(parents=True)
    (etc / "pki").mkdir()
    (etc / "keys" / "secret.key").write_text(Fernet.generate_key().decode() * 2 + "\n")
    (etc / "keys" / "data.key").write_text(Fernet.generate_key().decode() + "\n")
    (etc / "keys" / "server.credentials").write_text("username = \"eldergate-server\"\npassword = \"x\"\n")
    (etc / "pki" / "ca.crt").write_text("")
    for f in (etc / "keys").iterdir():
        os.chmod(f, 0o600)
    text = (ROOT / "deploy" / "community.toml").read_text(encoding="utf-8")
    text = text.replace("/etc/eldergate", str(etc)).replace("/var/lib/eldergate-community", str(tmp_path / "data"))
    cfg = tmp_path / "community.toml"
    cfg.write_text(text, encoding="utf-8")
    r = _check(cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "System check identified no issues" in r.stdout + r.stderr, r.stdout + r.stderr


def test_a_data_key_beside_the_database_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "community.toml"
    cfg.write_text('[server]\npublic_url = "https://community.example.cn"\nbehind_proxy = true\n')
    r = _check(cfg)
    assert r.returncode != 0 and "eldergate.W001" in r.stdout + r.stderr, r.stdout + r.stderr
