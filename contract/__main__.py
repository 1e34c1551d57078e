"""``python -m eldergate.contract [FOLDER]``: write the JSON Schemas (default docs/schemas)."""

from __future__ import annotations

import sys
from pathlib import Path

from eldergate.contract.messages import write_schemas

for path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
    print(path)
