"""The community's own certificate authority, in files, for operators who prefer certificates:
the brokers', the web server's and PostgreSQL's server certificates, and client certificates for
boxes (CN ``site.gateway``, the broker's username with ``use_identity_as_username``) or for the
server itself. Revoking writes the CRL the brokers read (``crlfile`` in Mosquitto, ``ca_file``
plus CRL checks in a reverse proxy).

Keys are written with mode 0600; the CA's key never leaves its folder. ECDSA P-256: small
certificates and fast handshakes on a Pi (every TLS library the stack uses accepts it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers and most TLS stacks still accept for a server certificate
CRL_DAYS = 30  # a CRL is re-signed at least this often (every revoke, and `ca revoke --refresh`)


class CaError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Authority:
    folder: Path

    @property
    def key_file(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert_file(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def crl_file(self) -> Path:
        return self.folder / "crl.pem"

    @property
    def revoked_file(self) -> Path:
        return self.folder / "revoked.json"

    def load(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        try:
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), None)
            cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        except (OSError, ValueError) as err:
            raise CaError(f"no usable CA in {self.folder} ({err}): run `eldergate community ca init` first") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CaError(f"{self.key_file} is not an EC key made by `ca init`")
        return key, cert

    def revoked(self) -> dict[str, str]:
        """serial (hex) -> when it was revoked (ISO 8601)"""
        try:
            data = json.loads(self.revoked_file.read_text())
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}


def write_file(path: Path, data: bytes, private: bool = False) -> None:
    """Atomically (a crash leaves the old file or the new one), mode 0600 when ``private``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init(folder: Path, name: str, now: dt.datetime | None = None) -> Authority:
    ca = Authority(folder)
    if ca.key_file.exists():
        raise CaError(f"{ca.key_file} exists: a CA is made once (its certificate is on every box)")
    folder.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    write_file(ca.key_file, _pem_key(key), private=True)
    write_file(ca.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    _write_crl(ca, now, key, cert)
    return ca


def issue(folder: Path, common_name: str, out: Path, hosts: list[str] | None = None,
          now: dt.datetime | None = None) -> tuple[Path, Path]:
    """A certificate for ``common_name``: a server's when ``hosts`` (DNS names or IP addresses)
    are given, a client's otherwise. Writes ``<out>/<name>.crt`` and ``<out>/<name>.key`` (0600)."""
    ca = Authority(folder)
    ca_key, ca_cert = ca.load()
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    # a server's certificate also serves as a client's: a NATS node dials the others' routes with it
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if hosts \
        else [ExtendedKeyUsageOID.CLIENT_AUTH]
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if hosts:
        names: list[x509.GeneralName] = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    out.mkdir(parents=True, exist_ok=True)
    stem = common_name.replace("/", "_").replace(":", "_")
    crt, k = out / f"{stem}.crt", out / f"{stem}.key"
    write_file(k, _pem_key(key), private=True)
    write_file(crt, cert.public_bytes(serialization.Encoding.PEM))
    return crt, k


def revoke(folder: Path, cert_file: Path | None = None, serial: str | None = None,
           now: dt.datetime | None = None) -> str:
    """Adds the certificate (by file or serial number in hex) to the CRL; returns the serial."""
    ca = Authority(folder)
    ca_key, ca_cert = ca.load()
    if cert_file is not None:
        try:
            serial = format(x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number, "x")
        except (OSError, ValueError) as err:
            raise CaError(f"cannot read {cert_file}: {err}") from None
    if not serial:
        raise CaError("name the certificate to revoke (its file, or --serial)")
    now = now or dt.datetime.now(dt.UTC)
    gone = ca.revoked()
    gone.setdefault(serial.lower(), now.isoformat())
    write_file(ca.revoked_file, json.dumps(gone, indent=1).encode())
    _write_crl(ca, now, ca_key, ca_cert)
    return serial.lower()


def _write_crl(ca: Authority, now: dt.datetime, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    b = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject).last_update(now)
         .next_update(now + dt.timedelta(days=CRL_DAYS)))
    for serial, at in ca.revoked().items():
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                                      .revocation_date(dt.datetime.fromisoformat(at)).build())
    write_file(ca.crl_file, b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
