"""The data key (#32): no plaintext path into an encrypted column, several keys with the newest
first, `rotate-keys` re-encrypting everything so the old key can go, a bad key refused at start."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

from testutil import clean_env, eldergate_cmd


def _eg(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(eldergate_cmd("community", *args, "--config", str(folder / "community.toml")),
                          capture_output=True, text=True, env=clean_env(), timeout=120, cwd=folder)


def test_a_note_that_looks_like_a_token_is_still_encrypted(world: object) -> None:
    from django.db import connection

    from eldergate.community.models import Resident
    from eldergate.community.models.crypto import decrypt

    r = Resident.objects.first()
    assert r is not None
    sneaky = "gAAAAB this note begins like a Fernet token"
    r.medical_history = sneaky
    r.save()
    Resident.objects.filter(pk=r.pk).update(medications="gAAAA via a queryset update")
    with connection.cursor() as cur:
        cur.execute("SELECT medical_history, medications FROM community_resident WHERE id = %s", [r.pk])
        stored_history, stored_meds = cur.fetchone()
    assert stored_history != sneaky and decrypt(stored_history) == sneaky
    assert decrypt(stored_meds) == "gAAAA via a queryset update"
    # a value read back and saved again is not encrypted twice
    again = Resident.objects.get(pk=r.pk)
    again.save()
    assert decrypt(Resident.objects.get(pk=r.pk).medical_history) == sneaky


def _home_with_notes(folder: Path) -> None:
    (folder / "community.toml").write_text('[server]\ndata_key_file = "keys/data.key"\n', encoding="utf-8")
    (folder / "keys").mkdir()
    (folder / "keys" / "data.key").write_text(Fernet.generate_key().decode() + "\n")
    csv = folder / "residents.csv"
    csv.write_text("community,street,address,resident_id,name,birth_year,medical_history,medications,site,gateway\n"
                   "kz,kz,1号楼101,r1,杜秀英,1941,高血压,阿司匹林,kz,gw1\n"
                   "kz,kz,1号楼102,r1,王建国,1938,糖尿病,二甲双胍,kz,gw2\n", encoding="utf-8")
    r = _eg(folder, "import-residents", str(csv))
    assert r.returncode == 0, r.stdout + r.stderr


def _medical(folder: Path) -> list[str]:
    code = ("from eldergate.community.models import Resident;from eldergate.community.models.crypto import decrypt;"
            "print('|'.join(decrypt(r.medical_history) for r in Resident.objects.order_by('pk')))")
    script = folder / "read.py"
    script.write_text("import sys\nfrom eldergate.community.bootstrap import start_django\n"
                      "from eldergate.community.config import load\nfrom pathlib import Path\n"
                      "start_django(load(Path(sys.argv[1])))\n" + code.replace(";", "\n") + "\n")
    r = subprocess.run([str(Path(eldergate_cmd()[0]).with_name("python")), str(script), str(folder / "community.toml")],
                       capture_output=True, text=True, env=clean_env(), timeout=120, cwd=folder)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split("|")


def test_rotate_keys_lets_the_old_key_go(tmp_path: Path) -> None:
    _home_with_notes(tmp_path)
    assert _medical(tmp_path) == ["高血压", "糖尿病"]
    key_file = tmp_path / "keys" / "data.key"
    old = key_file.read_text().strip()
    step1 = _eg(tmp_path, "rotate-keys", "--new-key")
    assert step1.returncode == 0 and "restart" in step1.stdout, step1.stdout + step1.stderr
    keys = key_file.read_text().split()
    assert len(keys) == 2 and keys[1] == old and (key_file.stat().st_mode & 0o777) == 0o600
    step2 = _eg(tmp_path, "rotate-keys", "--batch", "1")
    assert step2.returncode == 0 and "4 value(s) re-encrypted" in step2.stdout, step2.stdout + step2.stderr
    key_file.write_text(keys[0] + "\n")  # the old key removed: everything still reads
    assert _medical(tmp_path) == ["高血压", "糖尿病"]


def test_a_bad_data_key_is_refused_at_start_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "community.toml").write_text('[server]\ndata_key_file = "bad.key"\n', encoding="utf-8")
    (tmp_path / "bad.key").write_text("not-a-key\n")
    r = _eg(tmp_path, "tokens", "list")
    assert r.returncode == 2 and "server.data_key_file" in r.stderr and "Traceback" not in r.stderr, r.stderr
