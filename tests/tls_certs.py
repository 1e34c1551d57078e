"""A throw-away CA, a server certificate for 127.0.0.1 and client certificates, made with openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(folder: Path, clients: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=eldergate-test-ca",
         "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in [("server", ["-extfile", "san.ext"])] + [(c, []) for c in clients]:
        _run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", cwd=folder)
        _run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-out", f"{name}.crt", *ext, cwd=folder)
    for p in folder.iterdir():
        p.chmod(0o644)  # mosquitto drops to its own user and must read them
    folder.chmod(0o755)
    return folder
