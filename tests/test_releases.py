"""The signed release bundle (contract/releases.py) and `eldergate release`: a release may bring the
wheels of dependencies the boxes' installation lacks, each signed by size and SHA-256 in the
manifest; a bundle without them is written exactly as before they existed (boxes of earlier
versions read it); a changed, missing or extra wheel is refused with what is wrong; any bytes at
all are a clear refusal, never a crash."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from releases import dependency_wheel

from eldergate.contract.releases import MANIFEST, SIGNATURE, BadRelease, build, new_key, verify

from testutil import clean_env, eldergate_cmd

KEY, PUBLIC = new_key()


def _wheel(out: Path, version: str = "0.3.0") -> Path:
    """An eldergate wheel by its name; its contents do not matter to the bundle."""
    path = out / f"eldergate-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("eldergate/__init__.py", "")
    return path


def _rezip(bundle: Path, change: dict[str, bytes | None]) -> bytes:
    """The bundle with members replaced (None: removed), the signed manifest kept."""
    out = bundle.with_suffix(".changed.zip")
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name not in change:
                dst.writestr(name, src.read(name))
        for name, data in change.items():
            if data is not None:
                dst.writestr(name, data)
    return out.read_bytes()


def test_a_release_without_dependencies_is_the_bundle_boxes_read_before(tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    build(_wheel(tmp_path), KEY, bundle)
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read(MANIFEST))
        assert sorted(z.namelist()) == sorted([MANIFEST, SIGNATURE, "eldergate-0.3.0-py3-none-any.whl"])
    # the fields (and only those) a box of the previous version accepts (its Manifest forbids others)
    assert sorted(manifest) == ["created_at", "package", "sha256", "size", "version", "wheel"]
    got = verify(bundle.read_bytes(), PUBLIC, "0.3.0")
    assert got.dependencies == {} and got.manifest.version == "0.3.0"


def test_dependencies_travel_signed_and_every_change_is_refused(tmp_path: Path) -> None:
    dep = dependency_wheel(tmp_path, "eg_sample_dependency", "1.2")
    bundle = tmp_path / "b.zip"
    m = build(_wheel(tmp_path), KEY, bundle, (dep,))
    assert [d.wheel for d in m.dependencies] == [dep.name]
    got = verify(bundle.read_bytes(), PUBLIC, "0.3.0")
    assert got.dependencies == {dep.name: dep.read_bytes()}

    longer = dep.read_bytes() + b"\0"  # one byte more: not the size signed
    for change, why in (({dep.name: None}, f"the dependency {dep.name} is missing"),
                        ({dep.name: longer}, f"the dependency {dep.name} is missing or not the size"),
                        ({dep.name: bytes(reversed(dep.read_bytes()))}, "not the one the manifest was signed for")):
        with pytest.raises(BadRelease, match=why):
            verify(_rezip(bundle, change), PUBLIC)
    # an extra wheel nobody signed is never installed: only the manifest's wheels are read
    assert verify(_rezip(bundle, {"evil-6.6-py3-none-any.whl": b"x"}), PUBLIC).dependencies == got.dependencies


def test_build_refuses_what_no_box_could_install(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with pytest.raises(BadRelease, match="given twice"):
        build(wheel, KEY, tmp_path / "b.zip", (wheel,))
    bad = tmp_path / "not a wheel.zip"
    bad.write_bytes(b"x")
    with pytest.raises(BadRelease, match=r"not a wheel\.zip: not a wheel"):
        build(wheel, KEY, tmp_path / "b.zip", (bad,))


def test_the_command_line_builds_and_verifies_a_release_with_its_dependencies(tmp_path: Path) -> None:
    key = tmp_path / "release.key"
    assert subprocess.run(eldergate_cmd("release", "keygen", str(key)), env=clean_env(), capture_output=True
                          ).returncode == 0
    dep = dependency_wheel(tmp_path, "eg_sample_dependency", "1.2")
    built = subprocess.run(eldergate_cmd("release", "build", str(_wheel(tmp_path)), "--key", str(key), "--with",
                                         str(dep)), env=clean_env(), capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert f"with {dep.name} sha256" in built.stdout
    checked = subprocess.run(eldergate_cmd("release", "verify", str(tmp_path / "eldergate-0.3.0.zip"),
                                           "--public-key", str(tmp_path / "release.key.pub")),
                             env=clean_env(), capture_output=True, text=True)
    assert checked.returncode == 0 and f"with {dep.name}" in checked.stdout
    missing = subprocess.run(eldergate_cmd("release", "build", str(_wheel(tmp_path)), "--key", str(key), "--with",
                                           str(tmp_path / "nowhere.whl")), env=clean_env(), capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "nowhere.whl" in missing.stderr and "Traceback" not in missing.stderr


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_are_a_clear_refusal(data: bytes) -> None:
    with pytest.raises(BadRelease):
        verify(data, PUBLIC)
