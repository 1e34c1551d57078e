"""A software release for the boxes: one zip (the bundle) holding the eldergate wheel, the wheels
of any dependency the release needs that the boxes' installation lacks (or needs newer), its
manifest and the manifest's ed25519 signature by the platform operator's release key.

The box installs only a bundle whose signature verifies against the public key it was installed
with, whose every wheel has the manifest's size and SHA-256, and whose version is the one it was
asked for; the server checks the same before it offers a bundle to anyone. The bundle is read
member by member into memory, bounded, and never extracted: a zip's paths cannot write anywhere.

    eldergate release keygen  /secure/release.key            # once: the operator keeps it offline
    eldergate release build   dist/eldergate-0.2.0-py3-none-any.whl --key /secure/release.key \
        [--with wheels/tzdata-2026.1-py2.py3-none-any.whl ...]   # wheels for the boxes' platform

A manifest without dependencies is written exactly as before they existed (no ``dependencies``
key), so boxes of earlier versions still read it; one with them is refused by those boxes as
unreadable, which is right: they could not install it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_WHEEL_BYTES = 20 * 1024 * 1024  # any one wheel (the project's is ~0.5 MB; numpy's for aarch64 ~14 MB)
MAX_DEPENDENCIES = 16
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # all its wheels: a Pi holds the bundle in memory while it checks it


class Dependency(BaseModel):
    """A wheel the release needs beside its own (PEP 427 file name: name-version[-build]-tags.whl)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    wheel: str = Field(pattern=r"^[A-Za-z0-9_.]{1,80}-[0-9][0-9A-Za-z.+_!]{0,39}(-[0-9A-Za-z_.]{1,40}){3,4}\.whl$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0, le=MAX_WHEEL_BYTES)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    package: Literal["eldergate"] = "eldergate"
    version: str = Field(pattern=r"^[0-9][0-9A-Za-z.+-]{0,39}$")
    wheel: str = Field(pattern=r"^eldergate-[0-9][0-9A-Za-z.+_-]{0,39}-py3-none-any\.whl$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0, le=MAX_WHEEL_BYTES)
    created_at: float = Field(ge=0, le=4_102_444_800)
    dependencies: tuple[Dependency, ...] = Field(default=(), max_length=MAX_DEPENDENCIES)

    def signed_body(self) -> bytes:
        """The manifest as signed; without dependencies, as boxes before them wrote and read it."""
        return self.model_dump_json(exclude=None if self.dependencies else {"dependencies"}).encode()


@dataclass(frozen=True, slots=True)
class Verified:
    """A bundle that verified: its manifest, its wheel's bytes and each dependency's, by file name."""

    manifest: Manifest
    wheel: bytes
    dependencies: dict[str, bytes]


class BadRelease(ValueError):
    """A bundle to refuse, and why (said in the box's status and the server's answer)."""


def new_key() -> tuple[bytes, bytes]:
    """(private key PEM, public key PEM) for signing releases."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def build(wheel: Path, private_pem: bytes, out: Path, dependencies: tuple[Path, ...] = ()) -> Manifest:
    """Sign ``wheel`` (and the ``dependencies``' wheels) into a bundle at ``out``; the version is the
    wheel's own (its file name)."""
    data = wheel.read_bytes()
    parts = wheel.name.split("-")
    if len(parts) != 5 or parts[0] != "eldergate":
        raise BadRelease(f"{wheel.name}: not an eldergate wheel (eldergate-<version>-py3-none-any.whl)")
    deps = {d.name: d.read_bytes() for d in dependencies}
    if len(deps) != len(dependencies) or wheel.name in deps:
        raise BadRelease("a wheel is given twice")
    signed = []
    for name, dep in deps.items():
        try:
            signed.append(Dependency(wheel=name, sha256=hashlib.sha256(dep).hexdigest(), size=len(dep)))
        except ValidationError:
            raise BadRelease(f"{name}: not a wheel (name-version-python-abi-platform.whl, at most "
                             f"{MAX_WHEEL_BYTES} bytes)") from None
    try:
        manifest = Manifest(version=parts[1], wheel=wheel.name, sha256=hashlib.sha256(data).hexdigest(),
                            size=len(data), created_at=round(time.time(), 3), dependencies=tuple(signed))
    except ValidationError as err:
        raise BadRelease(f"{wheel.name}: {err.errors(include_url=False)[0]['msg']}") from None
    if len(data) + sum(map(len, deps.values())) > MAX_BUNDLE_BYTES - 64 * 1024:
        raise BadRelease(f"the wheels come to more than a bundle may hold ({MAX_BUNDLE_BYTES} bytes)")
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise BadRelease("the release key is not an ed25519 key")
    body = manifest.signed_body()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr(MANIFEST, body)
        z.writestr(SIGNATURE, base64.b64encode(key.sign(body)))
        z.writestr(manifest.wheel, data)
        for name, dep in deps.items():
            z.writestr(name, dep)
    return manifest


def verify(bundle: bytes, public_pem: bytes, version: str | None = None) -> Verified:
    """The manifest and wheels of a bundle that verifies; BadRelease saying why otherwise."""
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise BadRelease(f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        z = zipfile.ZipFile(io.BytesIO(bundle))
        sizes = {i.filename: i.file_size for i in z.infolist()}
        if MANIFEST not in sizes or SIGNATURE not in sizes or sizes[MANIFEST] > 4096 or sizes[SIGNATURE] > 256:
            raise BadRelease("the bundle has no manifest and signature")
        body, signature = z.read(MANIFEST), base64.b64decode(z.read(SIGNATURE), validate=True)
    except (zipfile.BadZipFile, ValueError) as err:
        raise BadRelease(f"the bundle is not readable: {err}") from None
    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError:
        raise BadRelease("the box's release key is not readable") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadRelease("the box's release key is not an ed25519 key")
    try:
        key.verify(signature, body)
    except InvalidSignature:
        raise BadRelease("the signature does not match the release key") from None
    try:
        manifest = Manifest.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        raise BadRelease("the signed manifest is not readable") from None
    if version is not None and manifest.version != version:
        raise BadRelease(f"the bundle is version {manifest.version}, not {version}")
    wheel = _member(z, sizes, manifest.wheel, manifest.size, manifest.sha256, "the wheel")
    deps = {d.wheel: _member(z, sizes, d.wheel, d.size, d.sha256, f"the dependency {d.wheel}")
            for d in manifest.dependencies}
    return Verified(manifest, wheel, deps)


def _member(z: zipfile.ZipFile, sizes: dict[str, int], name: str, size: int, sha256: str, what: str) -> bytes:
    if sizes.get(name) != size:
        raise BadRelease(f"{what} is missing or not the size the manifest says")
    data = z.read(name)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BadRelease(f"{what} is not the one the manifest was signed for (SHA-256)")
    return data
