"""For maintainers: ``python -m eldergate.community.tools.makemigrations [--check]`` writes the
migrations for changed models into community/migrations/ (a test runs it with --check)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from eldergate.community.bootstrap import start_django
from eldergate.community.config import load


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load(None)
        start_django(cfg.model_copy(update={"server": cfg.server.model_copy(update={"data_dir": Path(tmp)})}),
                     migrate=False)
        from django.core.management import call_command

        try:
            call_command("makemigrations", "community", *sys.argv[1:])
        except SystemExit as exit_:
            return int(exit_.code or 0)
    _into_the_source_tree()
    return 0


def _into_the_source_tree() -> None:
    """A strict editable install links each file: a new migration lands in the link tree. Move it
    next to the file its __init__.py links to."""
    import eldergate.community.migrations as pkg

    here = Path(pkg.__file__ or "").parent
    source = (here / "__init__.py").resolve().parent
    if source == here:
        return
    for f in here.glob("*.py"):
        if not f.is_symlink():
            f.rename(source / f.name)
            print(f"moved {f.name} to {source}")


if __name__ == "__main__":
    sys.exit(main())
