"""Developer helper: rewrite the initial migration from the models while the schema is young.

``python -m inventory.schema_dev regen`` — deletes 0001 and autogenerates it again. Once a
release has shipped, add new revisions instead (``autogenerate`` in inventory.schema).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from inventory import schema
from inventory.db import make_engine

INITIAL = schema.MIGRATIONS_DIR / "versions" / "0001_initial_pool_schema.py"


def regen() -> Path:
    INITIAL.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/empty.sqlite")
        schema.autogenerate("initial pool schema", engine)
        engine.dispose()
    versions = schema.MIGRATIONS_DIR / "versions"
    generated = [p for p in versions.glob("*_initial_pool_schema.py") if p != INITIAL]
    if len(generated) != 1:
        raise SystemExit(f"expected one generated revision, found {generated}")
    text = generated[0].read_text()
    rev = text.split("revision: str = ", 1)[1].split("\n", 1)[0]
    text = text.replace(f"revision: str = {rev}", 'revision: str = "0001"', 1)
    text = text.replace(f"Revision ID: {rev.strip(chr(39))}", "Revision ID: 0001", 1)
    INITIAL.write_text(text)
    generated[0].unlink()
    _tidy(INITIAL)
    return INITIAL


def _tidy(path: Path) -> None:
    """Keep the generated file ruff-clean (sorted imports, formatted), as CI checks it."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    subprocess.run([ruff, "check", "--fix", "--quiet", str(path)], check=False)
    subprocess.run([ruff, "format", "--quiet", str(path)], check=False)


if __name__ == "__main__":
    if sys.argv[1:] != ["regen"]:
        raise SystemExit("usage: python -m inventory.schema_dev regen")
    print(regen())
