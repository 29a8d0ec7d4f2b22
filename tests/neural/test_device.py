"""``--device auto|cpu|cuda``: auto takes CUDA only when PyTorch sees it; cuda without a GPU
is refused in one line before any work; the deep model runs where it is told."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gistcad.cli import main
from gistcad.errors import ValidationError
from gistcad.modelling.dl_model import DlLearner
from gistcad.neural.network import pick_device

HAS_CUDA = torch.cuda.is_available()


def test_auto_is_cuda_only_where_pytorch_sees_it() -> None:
    assert pick_device("auto") == torch.device("cuda" if HAS_CUDA else "cpu")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device: nothing to refuse")
def test_cuda_without_a_gpu_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"^--device cuda: PyTorch sees no CUDA device"):
        pick_device("cuda")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device: nothing to refuse")
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--model", "dl", "--device", "cuda"],
        ["predict", "--model", "1", "--all", "--device", "cuda"],
    ],
)
def test_commands_refuse_cuda_without_a_gpu_in_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gistcad: error: --device cuda: PyTorch sees no CUDA device")
    assert err.count("\n") == 1


def test_an_unknown_device_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--model", "1", "--all", "--device", "tpu"])
    assert stop.value.code == 2
    assert "argument --device: invalid choice: 'tpu'" in capsys.readouterr().err


def test_the_deep_model_runs_on_its_device(tmp_path: Path) -> None:
    learner = DlLearner(n_classes=4, data_dir=tmp_path, device="cpu")
    network = learner._model(torch.nn.Linear(2, 2))
    assert {p.device for p in network.parameters()} == {torch.device("cpu")}
