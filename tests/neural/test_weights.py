from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gistcad.errors import ValidationError
from gistcad.neural.inference import predict
from gistcad.neural.network import ModelConfig, build_model
from gistcad.neural.weights import load_model, save_weights
from tests.neural.conftest import blob_crops

CFG = ModelConfig(crop_size=32)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(1)
    return build_model(CFG).eval()


def test_round_trip_gives_the_same_predictions(tmp_path: Path, model: torch.nn.Module) -> None:
    sha = save_weights(model, tmp_path / "w.pt")
    loaded = load_model(tmp_path / "w.pt", sha, CFG)
    assert not loaded.training
    crops = blob_crops(2)[0]
    np.testing.assert_array_equal(
        predict(model, crops).probabilities, predict(loaded, crops).probabilities
    )


def test_same_weights_same_bytes(tmp_path: Path, model: torch.nn.Module) -> None:
    a = save_weights(model, tmp_path / "a.pt")
    b = save_weights(model.state_dict(), tmp_path / "b.pt")
    assert a == b and (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_one_flipped_byte_is_refused_before_unpickling(
    tmp_path: Path, model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.pt"
    sha = save_weights(model, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load must not run on a file that failed its checksum")

    monkeypatch.setattr(torch, "load", never)
    with pytest.raises(ValidationError, match=f"expected sha256 {sha}.*has [0-9a-f]{{64}}") as err:
        load_model(path, sha, CFG)
    assert str(path) in str(err.value)


def test_weights_of_another_network_are_refused(tmp_path: Path, model: torch.nn.Module) -> None:
    sha = save_weights(model, tmp_path / "w.pt")
    with pytest.raises(ValidationError, match="do not fit"):
        load_model(tmp_path / "w.pt", sha, ModelConfig(architecture="densenet121", crop_size=32))
    with pytest.raises(ValidationError, match="no weights file"):
        load_model(tmp_path / "missing.pt", sha, CFG)
