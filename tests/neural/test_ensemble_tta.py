"""The deep model's seed ensemble, test-time views and fixed-millimetre crops.

One tiny cohort (8 synthetic patients, one epoch per network): an ensemble's prediction is
the mean of its networks' predictions computed here by hand; its first network is the single
model of the same seed and the others differ; test-time views are reproducible, include the
crop as it is, and change nothing when there are none; an ensemble survives saving; settings
and requests stored before these options load as a single network on fitted crops; a fixed
crop has the asked spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from gistcad.cli import main
from gistcad.domain import GenotypeDetail, ModelKind, Precision, Site
from gistcad.errors import ValidationError
from gistcad.modelling.dl_model import TTA_SEED, DlLearner, DlSettings
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target, labels_for
from gistcad.modelling.trainer import _inputs_text, make_learner
from gistcad.neural.augment import AugmentSettings, affine_thetas
from gistcad.neural.crop import CropSettings, SpacingPolicy
from gistcad.neural.gradcam import gradcam
from gistcad.neural.inference import predict
from gistcad.neural.network import KIT11_INDEX, Architecture, build_model
from gistcad.neural.weights import save_weights
from tests.modelling.test_learner_contract import _patient_images

N = 8
#: one epoch of the small DenseNet without the histogram branch (4× faster to train here; what
#: is tested does not depend on the network, and the default one keeps the learner contract,
#: tests/modelling/test_learner_contract.py); without the harmonisation, which has its own
#: tests (tests/modelling/test_crop_harmonisation.py), so that the files hold networks only
TINY = DlSettings(
    epochs=1,
    patience=1,
    batch_size=6,
    architecture=Architecture.DENSENET_SMALL,
    harmonise=False,
)
GENOTYPES = [GenotypeDetail.KIT11_DEL_557_558, GenotypeDetail.KIT9, GenotypeDetail.PDGFRA_D842V]


@dataclass(frozen=True)
class Trained:
    """The cohort, and a single network and an ensemble of two fitted on it (seed 3)."""

    data_dir: Path
    table: pd.DataFrame
    labels: np.ndarray
    single: dict[str, Any]
    ensemble: dict[str, Any]

    def learner(self, loader_workers: int = 0, **settings: Any) -> DlLearner:
        return DlLearner(
            n_classes=2,
            data_dir=self.data_dir,
            seed=3,
            settings=replace(TINY, **settings),
            device="cpu",
            loader_workers=loader_workers,
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    data_dir = tmp_path_factory.mktemp("ensemble")
    rng = np.random.default_rng(11)
    rows = []
    for i in range(N):
        genotype = GENOTYPES[i % len(GENOTYPES)]
        rows.append(
            {
                "pseudonym": f"P-{i:03d}",
                "genotype_detail": genotype.value,
                "site": (Site.STOMACH, Site.JEJUNUM_ILEUM)[i % 2].value,
                "sex": "female" if i % 2 else "male",
                "age_at_diagnosis": float(50 + i),
                "rfs_months": float(6 + 4 * i),
                "rfs_event": i % 3 == 0,
                **_patient_images(data_dir, i, genotype.value.startswith("kit11"), rng),
            }
        )
    table = pd.DataFrame(rows)
    labels = labels_for(table, Target.KIT11)
    every = np.arange(N)
    probe = Trained(data_dir, table, labels, {}, {})
    single = probe.learner().fit(table, labels, every)
    ensemble = probe.learner(ensemble=2).fit(table, labels, every)
    return Trained(data_dir, table, labels, single, ensemble)


def _network(learner: DlLearner, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = build_model(learner.model_config())
    model.load_state_dict(state)
    return model.eval()


def _by_hand(
    learner: DlLearner, states: list[dict[str, torch.Tensor]], crops: np.ndarray, cov: Any
) -> tuple[np.ndarray, np.ndarray]:
    """p(KIT exon 11) and the risk score, averaged over the networks with numpy."""
    outputs = [predict(_network(learner, s), crops, covariates=cov) for s in states]
    p_kit11 = np.mean([o.probabilities[:, KIT11_INDEX] for o in outputs], axis=0)
    return p_kit11, np.mean([o.risk_score for o in outputs], axis=0)


def test_an_ensemble_predicts_the_mean_of_its_networks(trained: Trained) -> None:
    learner = trained.learner(ensemble=2)
    states = trained.ensemble["members"]
    assert len(states) == 2 and len(trained.ensemble["best_epochs"]) == 2
    scores = learner.predict(trained.ensemble, trained.table)
    crops, covariates = learner.inputs(trained.table)
    p_kit11, risk = _by_hand(learner, states, crops, covariates)
    np.testing.assert_allclose(scores.probabilities[:, 1], p_kit11, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scores.probabilities[:, 0], 1 - p_kit11, rtol=1e-5, atol=1e-7)
    assert scores.risk_score is not None
    np.testing.assert_allclose(scores.risk_score, risk, rtol=1e-5, atol=1e-6)
    # and not merely one of them
    alone, _ = _by_hand(learner, states[:1], crops, covariates)
    assert np.abs(alone - p_kit11).max() > 1e-4


def test_the_first_network_is_the_single_model_and_the_others_differ(trained: Trained) -> None:
    first, second = trained.ensemble["members"]
    single = trained.single["members"][0]
    assert all(torch.equal(first[k], single[k]) for k in single)  # same seed, same split
    assert any(not torch.equal(first[k], second[k]) for k in first if first[k].is_floating_point())
    # a single network predicts exactly as the network itself (as before ensembles)
    learner = trained.learner()
    crops, covariates = learner.inputs(trained.table)
    direct = predict(_network(learner, single), crops, batch_size=1, covariates=covariates)
    scores = learner.predict(trained.single, trained.table)
    np.testing.assert_array_equal(scores.probabilities[:, 1], direct.probabilities[:, KIT11_INDEX])
    np.testing.assert_array_equal(scores.risk_score, direct.risk_score)


def _view(crops: np.ndarray, theta: torch.Tensor) -> np.ndarray:
    """Every crop through one affine transform, with torch's sampler directly."""
    x = torch.from_numpy(crops)
    grid = F.affine_grid(theta.expand(len(x), 3, 4), list(x.shape), align_corners=False)
    moved = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return moved.clamp(0, 1).numpy()


def test_test_time_views_are_reproducible_and_include_the_crop_itself(trained: Trained) -> None:
    learner = trained.learner(tta=2)
    scores = learner.predict(trained.single, trained.table)
    again = learner.predict(trained.single, trained.table)
    np.testing.assert_array_equal(scores.probabilities, again.probabilities)
    np.testing.assert_array_equal(scores.risk_score, again.risk_score)

    crops, covariates = learner.inputs(trained.table)
    model = _network(learner, trained.single["members"][0])
    ranges = AugmentSettings(hu_scale=0.0, hu_shift=0.0)
    thetas = affine_thetas(2, ranges, np.random.default_rng(TTA_SEED))
    identity = predict(model, crops, covariates=covariates).probabilities[:, KIT11_INDEX]
    views = [
        predict(model, _view(crops, theta), covariates=covariates).probabilities[:, KIT11_INDEX]
        for theta in thetas
    ]
    np.testing.assert_allclose(
        scores.probabilities[:, 1], np.mean([identity, *views], axis=0), rtol=1e-5, atol=1e-7
    )
    # the views do change the prediction, and leaving the crop itself out would show
    assert np.abs(scores.probabilities[:, 1] - identity).max() > 1e-5
    assert np.abs(scores.probabilities[:, 1] - np.mean(views, axis=0)).max() > 1e-5
    # a case's prediction does not depend on the cases predicted with it
    alone = learner.predict(trained.single, trained.table.iloc[[5]])
    np.testing.assert_allclose(alone.probabilities[0], scores.probabilities[5], rtol=1e-6)


def test_an_ensemble_is_saved_and_loaded_as_one_file(trained: Trained, tmp_path: Path) -> None:
    learner = trained.learner(ensemble=2, tta=1)
    path, sha256 = learner.save(trained.ensemble, tmp_path)
    loaded = learner.load(path, sha256)
    assert isinstance(loaded, list) and len(loaded) == 2
    some = trained.table.iloc[:3]
    before = learner.predict(trained.ensemble, some)
    after = learner.predict(loaded, some)
    np.testing.assert_array_equal(after.probabilities, before.probabilities)
    np.testing.assert_array_equal(after.risk_score, before.risk_score)
    with pytest.raises(ValidationError, match="fewer than the 3 networks"):
        trained.learner(ensemble=3).load(path, sha256)
    with pytest.raises(ValidationError, match="do not fit"):
        trained.learner().load(path, sha256)
    # a single network's file is written as before ensembles: its own state dict
    single_path, single_sha = trained.learner().save(trained.single, tmp_path / "one")
    assert single_sha == save_weights(trained.single["members"][0], tmp_path / "plain.pt")
    assert isinstance(trained.learner().load(single_path, single_sha), torch.nn.Module)


def test_an_ensembles_attention_is_the_mean_of_its_networks_maps(trained: Trained) -> None:
    learner = trained.learner(ensemble=2)
    row = next(trained.table.iloc[[0]].itertuples(index=False))
    cam, crop = learner.attention(trained.ensemble, row, KIT11_INDEX)
    covariates = learner.inputs(trained.table.iloc[[0]])[1]
    maps = [
        gradcam(_network(learner, s), crop, KIT11_INDEX, covariates=covariates[0])
        for s in trained.ensemble["members"]
    ]
    np.testing.assert_allclose(cam, (maps[0] + maps[1]) / 2, atol=1e-6)


def test_loader_workers_fit_the_same_networks_and_mixed_precision_others(
    trained: Trained, loader_workers_seen: list[int]
) -> None:
    every = np.arange(N)
    # the anchor is refitted here: the module's fixture fitted with torch's default threads
    # (it starts before each test's one-thread fixture, tests/neural/conftest.py), and other
    # thread counts sum in other orders (3e-4 apart after an epoch)
    alone = trained.learner().fit(trained.table, trained.labels, every)["members"][0]
    assert loader_workers_seen == []
    read_ahead = trained.learner(loader_workers=2).fit(trained.table, trained.labels, every)
    # the workers did read (no more than the epoch has batches)
    assert loader_workers_seen and min(loader_workers_seen) >= 1
    for key, value in alone.items():
        assert torch.equal(value, read_ahead["members"][0][key]), key
    mixed = trained.learner(precision="bf16").fit(trained.table, trained.labels, every)
    differ = [
        k
        for k, v in alone.items()
        if v.is_floating_point() and not torch.equal(v, mixed["members"][0][k])
    ]
    assert differ and all(v.dtype != torch.bfloat16 for v in mixed["members"][0].values())


def test_settings_and_requests_stored_before_load_as_one_network_on_fitted_crops() -> None:
    new_keys = {"ensemble", "tta", "crop_policy", "crop_spacing_mm", "harmonise", "precision"}
    old = {k: v for k, v in DlSettings().to_dict().items() if k not in new_keys}
    settings = DlSettings.from_stored(old)
    assert (settings.ensemble, settings.tta, settings.views()) == (1, 0, None)
    assert settings.precision is Precision.FP32
    assert not settings.harmonise
    assert settings.crop_policy is SpacingPolicy.FIT and settings.crop_spacing_mm == 1.0
    assert settings.crop().key() == CropSettings(size=32).key()  # the crops cached before
    request = TrainRequest.from_parameters({"kind": "dl", "target": "kit11", "epochs": 2})
    assert (request.ensemble, request.tta, request.crop, request.crop_mm) == (1, 0, "fit", None)
    assert request.precision == "fp32"
    assert not {"ensemble", "tta", "crop", "crop_mm", "precision"} & set(request.to_parameters())
    asked = TrainRequest.from_parameters(
        {"kind": "dl", "ensemble": 3, "tta": 4, "crop": "fixed", "crop_mm": 3, "precision": "bf16"}
    )
    assert TrainRequest.from_parameters(asked.to_parameters()) == asked  # a job's round trip
    made = make_learner(asked, Path("."), device="cpu")
    assert isinstance(made, DlLearner)
    assert (made.settings.ensemble, made.settings.tta) == (3, 4)
    assert made.settings.precision is Precision.BF16
    assert made.settings.to_dict()["precision"] == "bf16"  # stored with the version
    assert "trained in mixed precision (bf16)" in _inputs_text(ModelKind.DL, made.settings)
    assert "precision" not in _inputs_text(ModelKind.DL, DlSettings())
    assert made.settings.crop() == CropSettings(size=32, policy=SpacingPolicy.FIXED, spacing_mm=3)
    assert "3 networks" in _inputs_text(ModelKind.DL, made.settings)


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"ensemble": 0}, "at least one network"),
        ({"tta": -1}, "0 or more"),
        ({"crop_spacing_mm": 0.0}, "positive number of millimetres"),
        ({"crop_policy": "tight"}, "unknown crop policy 'tight'"),
        ({"precision": "fp8"}, "unknown precision 'fp8'"),
    ],
)
def test_settings_refuse_what_cannot_be(asked: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DlSettings(**asked)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"kind": "clinical", "ensemble": 3}, "options of the deep model"),
        ({"kind": "dl", "crop": "fixed"}, "--crop fixed needs the crop's spacing"),
        ({"kind": "dl", "crop": "fixed", "crop_mm": -1}, "above 0"),
        ({"kind": "dl", "ensemble": 0}, "between 1 and 20"),
        ({"kind": "dl", "crop": "tight"}, "unknown crop 'tight'"),
        ({"kind": "dl", "precision": "half"}, "unknown precision 'half': fp32"),
        ({"kind": "radiomics", "precision": "bf16"}, "options of the deep model"),
    ],
)
def test_requests_refuse_what_cannot_be(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainRequest.from_parameters(parameters)


def test_a_fixed_crop_has_the_asked_spacing(trained: Trained) -> None:
    fixed = trained.learner(crop_policy="fixed", crop_spacing_mm=2.5)
    fit = trained.learner()
    rows = list(trained.table.iloc[:4].itertuples(index=False))
    for row in rows:
        crop = fixed._crop(row)
        assert crop.spacing_mm == 2.5 and crop.shape == (32, 32, 32)
        np.testing.assert_allclose(np.diag(crop.affine)[:3], 2.5)
        first, last = crop.affine @ [0, 0, 0, 1], crop.affine @ [31, 31, 31, 1]
        np.testing.assert_allclose(last[:3] - first[:3] + 2.5, 32 * 2.5)  # 80 mm of field
        # the size covariate is the tumour's own extent whatever the crop
        np.testing.assert_array_equal(crop.tumour_extent_mm, fit._crop(row).tumour_extent_mm)
    assert len({round(fit._crop(row).spacing_mm, 6) for row in rows}) > 1  # fit: per tumour


def test_train_passes_the_deep_options_to_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gistcad.modelling import trainer

    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    asked: list[TrainRequest] = []
    workers: list[int] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        asked.append(args[3])
        workers.append(kwargs["loader_workers"])
        raise ValidationError("stopped before training")

    monkeypatch.setattr(trainer, "train_and_register", record)
    options = ["--ensemble", "3", "--tta", "4", "--crop", "fixed", "--crop-mm", "3.5"]
    options += ["--precision", "bf16", "--loader-workers", "4"]
    assert main(["train", "--model", "dl", *options]) == 2
    assert [(r.ensemble, r.tta, r.crop, r.crop_mm, r.precision) for r in asked] == [
        (3, 4, "fixed", 3.5, "bf16")
    ]
    assert workers == [4]
    capsys.readouterr()
    assert main(["train", "--model", "clinical", "--tta", "2"]) == 2
    assert "options of the deep model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "dl", "--ensemble", "0"])
    assert "outside the allowed range of networks" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "dl", "--loader-workers", "33"])
    assert "outside the allowed range of processes: 0 to 32" in capsys.readouterr().err
    radiomics = TrainRequest.from_parameters({"kind": "radiomics"})
    with pytest.raises(ValidationError, match="--loader-workers reads the deep model's crops"):
        make_learner(radiomics, tmp_path, loader_workers=2)


def test_float16_off_cuda_is_refused_before_any_crop_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    read: list[object] = []
    monkeypatch.setattr(DlLearner, "_read", lambda *args: read.append(args))
    assert main(["train", "--model", "dl", "--precision", "fp16", "--device", "cpu"]) == 2
    assert "--precision fp16 needs a CUDA GPU" in capsys.readouterr().err
    assert not read
