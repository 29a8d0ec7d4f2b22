"""Image models on imported synthetic cohorts: chance without signal, never above the ceiling.

Small cohorts keep this fast, so the tolerances are wide (3 Hanley-McNeil standard errors:
±0.2–0.25 at 48 patients; wide, but a leak of the label into the inputs still shows as an AUC
near 1). bench/model_honesty.py runs the same checks on cohorts of hundreds over several seeds,
and whether the deep model beats the clinical baseline (not tested here: see its docstring).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.analysis.performance import roc_auc
from gistcad.cli import main
from gistcad.layout import DataLayout
from gistcad.modelling.crop_harmonisation import MIN_CENTER
from gistcad.store import AccessScope, make_engine
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import ModelVersion
from gistcad.synth.build import BuildOptions, build_cohort
from tests.modelling.test_honesty import _hanley_mcneil_se

N = 48


def _cohort(tmp_path_factory: pytest.TempPathFactory, signal: float) -> Path:
    out = tmp_path_factory.mktemp(f"signal{signal}") / "cohort"
    build_cohort(
        BuildOptions(
            out=out,
            patients=N,
            centers=3,
            seed=8,
            signal=signal,
            matrix=64,
            scan_length_mm=40.0,
            workers=2,
            follow_up=False,  # baseline CTs only: the models read one CT per patient
        )
    )
    return out


@dataclass(frozen=True)
class Imported:
    """A built cohort and a data folder it was imported into once (``db upgrade``, ``import
    demo``); each test trains in a copy of that folder (paths in the store are relative to
    it), so that the same 48 patients are not read from DICOM again for every test.

    The copies share one radiomics feature cache (keyed by the checksums of CT and mask, as
    in any data folder that trains twice): the first radiomics training of a cohort extracts
    the features, the other pipeline reads them."""

    cohort: Path
    data: Path

    def copy_to(
        self, data: Path, monkeypatch: pytest.MonkeyPatch, share_features: bool = True
    ) -> Path:
        """A copy of the imported data folder at ``data``, set as this test's data folder;
        ``share_features=False`` for a test that changes an image or a mask behind the
        store's back (the cache is keyed by the stored checksums)."""
        shutil.copytree(self.data, data)
        if share_features:
            shared = self.data.parent / "shared-features"
            shared.mkdir(exist_ok=True)
            DataLayout(data).feature_cache.symlink_to(shared, target_is_directory=True)
        monkeypatch.setenv("GISTCAD_DATA_DIR", str(data))
        monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
        return data


def _imported(tmp_path_factory: pytest.TempPathFactory, signal: float) -> Imported:
    cohort = _cohort(tmp_path_factory, signal)
    data = cohort.parent / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("GISTCAD_DATA_DIR", str(data))
        monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
        assert main(["db", "upgrade"]) == 0
        assert main(["import", "demo", str(cohort), "--json"]) == 0
    return Imported(cohort, data)


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return _imported(tmp_path_factory, 0.0)


@pytest.fixture(scope="module")
def full_signal(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return _imported(tmp_path_factory, 1.0)


#: The image models of these tests, as ``train`` options: 5-fold for all, 3 epochs for the
#: deep model (its covariate term starts from their logistic regression, so a covariate that
#: leaked the label would show from the first epoch; a leak through the crop would need more
#: training to show, which bench/model_honesty.py gives it); the radiomics model search (the
#: default) and the logistic pipeline.
MODELS = {
    "radiomics": ["--model", "radiomics"],
    "radiomics-logistic": ["--model", "radiomics", "--radiomics", "logistic"],
    "deep": ["--model", "dl", "--epochs", "3"],
}


def _train_and_evaluate(
    imported: Imported,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
) -> dict:
    """In a copy of the imported cohort, train ``model`` on KIT exon 11 vs rest out of fold,
    return the pooled row of the evaluation with the oracle."""
    imported.copy_to(data, monkeypatch)
    cohort = imported.cohort
    train = ["train", *MODELS[model], "--target", "kit11", "--cv", "kfold", "--name", "r"]
    assert main(train) == 0
    capsys.readouterr()
    oracle = cohort / "oracle.csv"
    assert main(["evaluate", "--model", "r", "--oracle", str(oracle), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    pooled = {r["center"]: r for r in report["tasks"]["kit11_vs_rest"]}["All centers"]
    assert pooled["n"] == N
    return pooled


@pytest.mark.parametrize("model", list(MODELS))
def test_falls_to_chance_without_signal(
    model: str,
    no_signal: Imported,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pooled = _train_and_evaluate(no_signal, tmp_path / "data", monkeypatch, capsys, model)
    positives = pooled["positives"]
    se = _hanley_mcneil_se(0.5, positives, pooled["n"] - positives)
    assert abs(pooled["auc"] - 0.5) < 3 * se, pooled
    assert abs(pooled["ceiling_auc"] - 0.5) < 3 * se  # the oracle agrees: nothing to learn
    # and so does the build's ceiling.json (once 0.53: floating-point noise ranked patients)
    ceiling = json.loads((no_signal.cohort / "ceiling.json").read_text())["pooled"]
    assert ceiling["kit11_vs_rest"] == 0.5 == pooled["ceiling_auc"]


@pytest.mark.parametrize("model", list(MODELS))
def test_stays_at_or_below_the_ceiling(
    model: str,
    full_signal: Imported,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pooled = _train_and_evaluate(full_signal, tmp_path / "data", monkeypatch, capsys, model)
    positives = pooled["positives"]
    se = _hanley_mcneil_se(pooled["ceiling_auc"], positives, pooled["n"] - positives)
    assert pooled["auc"] <= pooled["ceiling_auc"] + 3 * se, pooled
    oracle = pd.read_csv(full_signal.cohort / "oracle.csv")
    assert roc_auc(oracle["p_kit11"], oracle["is_kit11"].astype(int)) > 0.6
    assert np.isfinite(pooled["auc"])


def _empty_one_outline(data: Path) -> str:
    """Overwrite one patient's tumour mask in ``data`` with an outline covering no voxel
    (its stored checksum kept, as a file replaced behind the store's back); its pseudonym."""
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with Session(engine) as session:
        table = modelling_table(session, AccessScope.everything())
    engine.dispose()
    row = table.sort_values("pseudonym").iloc[3]
    path = data / row["mask_path"]
    mask = nib.load(path)
    blank = np.zeros(mask.shape, dtype=np.uint8)
    nib.save(nib.Nifti1Image(blank, mask.affine, mask.header), path)
    return str(row["pseudonym"])


def test_deep_model_trains_predicts_and_leaves_attention_maps(
    full_signal: Imported,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = full_signal.copy_to(tmp_path / "data", monkeypatch, share_features=False)
    empty = _empty_one_outline(data)  # a contour smaller than the CT's voxels, say
    args = ["train", "--model", "dl", "--target", "genotype", "--cv", "holdout", "--epochs", "2"]
    assert main([*args, "--name", "deep"]) == 0
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    with Session(engine) as session:
        version = session.scalars(select(ModelVersion).where(ModelVersion.name == "deep")).one()
        settings = version.parameters["dl_settings"]
        assert settings["covariates"] and settings["clinical_covariates"]
        assert settings["architecture"] == "densenet-small-histogram"
        card = version.metrics["card"]
        assert "learnable histogram of the CT inside the tumour" in card
        assert "primary site, age and sex as covariates" in card
        # the harmonisation of the final fit, center by center, on the card and in the file
        shifts = version.metrics["harmonisation"]["center_shifts_hu"]
        table = modelling_table(session, AccessScope.everything())
        trained = table[table["patient_id"].isin(version.metrics["training_patients"])]
        counts = trained["center"].value_counts()
        assert set(shifts) == set(counts[counts >= MIN_CENTER].index) and len(shifts) >= 2
        assert "**Harmonisation:** the tumour's CT level moved per center" in card
        assert all(f"{c} {v:+.1f} HU" in card for c, v in shifts.items())
        # the empty outline's patient is left out, the rest of the cohort trained
        assert version.metrics["undescribed_patients"] == [empty]
        assert version.metrics["n_patients"] == N - 1
        assert empty not in {row["pseudonym"] for row in version.metrics["oof"]}
        assert (
            f"**Left out:** 1 patient(s) whose tumour outline covers no voxel of the CT ({empty})"
            in card
        )
        # the schemes its risk head is judged against are stored beside every row
        assert all({"size_cm", "modified_nih"} <= set(r) for r in version.metrics["oof"])
    engine.dispose()
    assert main(["predict", "--model", "deep", "--all"]) == 0
    assert (
        f"{N - 1} predictions written by deep (1 patient(s) left out, whose tumour outline "
        f"covers no voxel of the CT: {empty})" in capsys.readouterr().out
    )
    maps = sorted((data / "cams").rglob("*.npz"))
    assert len(maps) == N - 1
    assert main(["predict", "--model", "deep", "--patient", empty]) == 2
    assert f"cannot be read by the deep model ({empty})" in capsys.readouterr().err
    cam = np.load(maps[0])["cam"]
    assert cam.shape == (32, 32, 32) and 0 <= cam.min() <= cam.max() <= 1
    assert main(["evaluate", "--model", "deep", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    concordance = report["concordance"]
    assert 0 <= concordance["All centers"] <= 1
    head = report["risk_head"]  # judged for survival, or why not (no recurrence in the holdout)
    if "metrics" in head:
        pooled = {r["center"]: r for r in head["metrics"]}["All centers"]
        assert pooled["harrell_c"] == pytest.approx(concordance["All centers"])
        assert "calibration" not in head
    else:
        assert "no recurrence" in head["not_evaluated"]
    assert main(["train", "--model", "dl", "--target", "risk", "--name", "nope"]) == 2
    assert "train the risk target with --model clinical or radiomics" in capsys.readouterr().err


def test_deep_model_trains_over_two_processes(
    full_signal: Imported,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--nproc 2``: each fit runs under torchrun in two processes (gloo on the CPU) and the
    version is registered and evaluated like one trained alone (that two processes learn what
    one learns is ``tests/neural/test_distributed.py``'s), never above the ceiling."""
    full_signal.copy_to(tmp_path / "data", monkeypatch)
    args = ["train", "--model", "dl", "--target", "kit11", "--cv", "holdout", "--epochs", "3"]
    assert main([*args, "--nproc", "2", "--name", "deep2"]) == 0
    capsys.readouterr()
    oracle = full_signal.cohort / "oracle.csv"
    assert main(["evaluate", "--model", "deep2", "--oracle", str(oracle), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    pooled = {r["center"]: r for r in report["tasks"]["kit11_vs_rest"]}["All centers"]
    positives = pooled["positives"]
    assert 0 < positives < pooled["n"]
    se = _hanley_mcneil_se(pooled["ceiling_auc"], positives, pooled["n"] - positives)
    assert 0 <= pooled["auc"] <= pooled["ceiling_auc"] + 3 * se, pooled
    assert main(["train", "--model", "clinical", "--nproc", "2", "--name", "c"]) == 2
    assert "the clinical model trains in one (leave --nproc out)" in capsys.readouterr().err
