"""The calculator-like commands start without the heavy libraries (torch, MONAI, pandas ...).

``gistcad --help``, ``risk``, ``therapy`` and ``db status`` should answer at once; importing
PyTorch, MONAI, scikit-learn or Streamlit alone takes seconds. Each case runs in a fresh
interpreter and lists which of them ended up in ``sys.modules`` (not a timing: a test checks
behaviour, the speed itself is measured by a bench).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "monai", "sklearn", "streamlit", "pandas", "scipy")
PROBE = """
import contextlib, io, json, sys
from gistcad.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        status = main(sys.argv[1:])
    except SystemExit as exc:
        status = exc.code
print(json.dumps({"status": status, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["risk", "--site", "jejunum", "--size-cm", "7", "--mitoses", "8"],
        ["therapy", "--genotype", "kit9", "--risk-class", "high"],
        ["db", "status"],
        ["survival", "--help"],
        ["cohort", "--help"],
        ["report", "--help"],
        ["train", "--help"],
    ],
    ids=" ".join,
)
def test_light_commands_import_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "GISTCAD_DATA_DIR": str(tmp_path)}
    env.pop("GISTCAD_DB_URL", None)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["status"] in (0, 1), completed.stderr  # db status: 1 before 'db upgrade'
    heavy = [m for m in HEAVY if m in outcome["loaded"]]
    assert heavy == [], f"{' '.join(argv)} imported {heavy}"
