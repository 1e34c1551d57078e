"""The server reaches PostgreSQL over TLS, verifying its certificate, when the database URL says so
(libpq's `sslmode`, `sslrootcert`, ... pass through): a real cluster that refuses plain TCP, a
certificate from `eldergate community ca`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from community_proc import community
from pg import BIN, Postgres, _as_postgres


def _tls_postgres(pki: Path) -> Postgres:
    pg = Postgres()
    key = pg.dir / "server.key"  # PostgreSQL wants its key owned by itself, mode 0600
    shutil.copy(pki / "db.key", key)
    shutil.copy(pki / "db.crt", pg.dir / "server.crt")
    key.chmod(0o600)
    if os.geteuid() == 0:
        for f in (key, pg.dir / "server.crt"):
            shutil.chown(f, "postgres")
    pg.start(extra=f"-c ssl=on -c ssl_cert_file={pg.dir / 'server.crt'} -c ssl_key_file={key}")
    # plain TCP refused from now on: only TLS connections are let in
    (pg.data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n"
                                          "host all all 127.0.0.1/32 reject\n")
    subprocess.run(_as_postgres([str(BIN / "pg_ctl"), "-D", str(pg.data), "reload"]), check=True,
                   capture_output=True)
    return pg


def test_the_server_uses_postgresql_over_verified_tls_and_plain_tcp_is_refused(tmp_path: Path) -> None:
    if BIN is None:
        pytest.fail("PostgreSQL is not installed: run ./scripts/test, which installs it")
    pki = tmp_path / "pki"
    assert community("ca", "init", str(pki), "test CA", cwd=tmp_path).returncode == 0
    assert community("ca", "issue", str(pki), "db", "--host", "127.0.0.1", cwd=tmp_path).returncode == 0
    pg = _tls_postgres(pki)
    try:
        url = pg.create_db("tls_db")
        ok = community("init", str(tmp_path / "a"), "--community", "s1", "--street", "街道", "--db",
                       f"{url}?sslmode=verify-full&sslrootcert={pki / 'ca.crt'}", cwd=tmp_path)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        plain = community("init", str(tmp_path / "b"), "--db", f"{url}?sslmode=disable", cwd=tmp_path)
        assert plain.returncode == 2 and "server.database" in plain.stderr and "Traceback" not in plain.stderr
        other_ca = tmp_path / "other"
        assert community("ca", "init", str(other_ca), "not ours", cwd=tmp_path).returncode == 0
        forged = community("init", str(tmp_path / "c"), "--db",
                           f"{url}?sslmode=verify-full&sslrootcert={other_ca / 'ca.crt'}", cwd=tmp_path)
        assert forged.returncode == 2, "a database whose certificate our CA did not sign was trusted"
    finally:
        pg.cleanup()
