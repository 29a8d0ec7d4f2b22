"""train → evaluate → predict from the command line on a seeded database; checksum refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.domain import ModelKind
from gistcad.modelling.dl_model import DlSettings
from gistcad.modelling.evaluation import confusion, evaluate
from gistcad.modelling.folds import Scheme, folds
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import dl_settings_of
from gistcad.neural.network import Architecture
from gistcad.store import make_engine, migrations
from gistcad.store.models import ModelVersion
from tests.factories import seed_cohort

TRAIN_KIT11 = ["train", "--model", "clinical", "--target", "kit11"]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=80, with_series=True)
        s.commit()
    engine.dispose()
    return tmp_path


def test_train_evaluate_predict(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "clinical", "--target", "kit11", "--name", "c1"]) == 0
    out = capsys.readouterr().out
    assert "registered model version 2: c1" in out and "**Intended use:**" in out
    assert main(["evaluate", "--model", "c1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["center"]: r for r in report["tasks"]["kit11_vs_rest"]}
    assert set(rows) == {"Alpha", "Beta", "All centers"}
    assert rows["All centers"]["n"] == 80 and 0 <= rows["All centers"]["auc"] <= 1
    assert main(["predict", "--model", "c1", "--patient", "P-001", "--patient", "P-002"]) == 0
    assert "2 predictions written by c1" in capsys.readouterr().out
    assert main(["predict", "--model", "c1", "--center", "Beta"]) == 0
    assert "40 predictions written by c1" in capsys.readouterr().out
    assert main(["predict", "--model", "c1", "--center", "Gamma"]) == 2
    assert "no CT-imaged patient in your scope at Gamma" in capsys.readouterr().err
    assert main(["predict", "--model", "current", "--center", "Beta"]) == 2
    assert "--center predicts with one model version" in capsys.readouterr().err
    assert main(["survival", "--by", "predicted", "--model", "c1", "--json"]) == 0
    survival = json.loads(capsys.readouterr().out)
    sizes = {r["group"]: r["n"] for r in survival["summary"]}
    # every patient was trained on, so each is grouped by its out-of-fold prediction (the
    # final model predicted only two of them, in-sample); none is left without a prediction
    assert "No prediction" not in sizes and sum(sizes.values()) == 80
    assert {r["source"] for r in survival["prediction_sources"]} == {"out-of-fold"}
    assert sum(r["n"] for r in survival["prediction_sources"]) == 80
    assert survival["validation"] == "kfold" and survival["in_sample"] is False
    assert main(["survival", "--by", "predicted", "--model", "c1", "--in-sample", "--json"]) == 0
    sizes = {r["group"]: r["n"] for r in json.loads(capsys.readouterr().out)["summary"]}
    assert sum(sizes.values()) == 80 and "No prediction" not in sizes


def test_a_changed_model_file_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--model", "clinical", "--target", "genotype", "--name", "g"]) == 0
    (model,) = (data_dir / "models" / "g").glob("*/model.joblib")
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["predict", "--model", "g", "--all"]) == 2
    assert "was changed or damaged, so it is not loaded" in capsys.readouterr().err


def test_a_taken_name_is_refused_before_training_and_leaves_the_first_model_intact(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--model", "clinical", "--target", "kit11", "--name", "same"]) == 0
    runs = list((data_dir / "models" / "same").iterdir())
    (model,) = runs[0].glob("model.joblib")
    before = model.read_bytes()
    first = capsys.readouterr()
    assert "fold 1" in first.out + first.err  # training reports its folds
    assert main(["train", "--model", "clinical", "--target", "genotype", "--name", "same"]) == 2
    captured = capsys.readouterr()
    assert "a model version called 'same' exists already; choose another --name" in captured.err
    assert "fold" not in captured.out + captured.err  # refused before any training
    assert list((data_dir / "models" / "same").iterdir()) == runs
    assert model.read_bytes() == before
    assert main(["predict", "--model", "same", "--all"]) == 0  # its checksum still matches


def test_folds_exclude_unknown_labels_and_cover_each_patient_once() -> None:
    labels = np.array([0, 1] * 20 + [-1] * 5)
    centers = np.array(["A", "B", "C", "D"] * 11 + ["A"], dtype=object)
    keys = [f"P{i}" for i in range(45)]
    tested = np.concatenate(
        [test for _, _, test in folds(labels, centers, Scheme.KFOLD, keys=keys)]
    )
    assert sorted(tested) == list(range(40))
    loco = list(folds(labels, centers, Scheme.LOCO, keys=keys))
    assert [name for name, _, _ in loco] == ["without A", "without B", "without C", "without D"]
    for _, train, test in loco:
        assert not set(centers[train]) & set(centers[test])
    ((_, train, test),) = folds(labels, centers, Scheme.HOLDOUT, keys=keys)
    assert len(test) == 10 and not set(train) & set(test)


def test_models_trained_with_folds_from_share_every_fold(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*TRAIN_KIT11, "--name", "a"]) == 0
    # another seed would deal other folds; --folds-from keeps the first model's
    assert main([*TRAIN_KIT11, "--name", "b", "--seed", "5", "--folds-from", "a"]) == 0
    out = capsys.readouterr().out
    assert "taken from a: 80 patients keep its folds, 0 not in it were dealt by hash" in out
    assert main([*TRAIN_KIT11, "--name", "c", "--seed", "5"]) == 0
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    with Session(engine) as s:
        versions = {
            v.name: v for v in s.query(ModelVersion).filter(ModelVersion.name.in_(["a", "b", "c"]))
        }
        oof = {
            n: {r["pseudonym"]: r["fold"] for r in v.metrics["oof"]} for n, v in versions.items()
        }
        stored = {n: v.metrics["folds"] for n, v in versions.items()}
    engine.dispose()
    assert len(oof["a"]) == 80 and oof["a"] == oof["b"]
    assert oof["c"] != oof["a"]
    assert stored["b"]["assignment"] == stored["a"]["assignment"]
    assert stored["b"]["from"] == "a" and stored["a"]["from"] is None
    capsys.readouterr()
    assert main(["evaluate", "--model", "b", "--compare", "a", "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)["comparison"]
    assert comparison["n"] == 80 and comparison["same_folds"] is True
    assert main(["evaluate", "--model", "c", "--compare", "a"]) == 0
    out = capsys.readouterr().out
    assert "80 shared patients, different folds (train one with --folds-from" in out
    assert main(["evaluate", "--model", "b", "--compare", "a"]) == 0
    assert "80 shared patients, the same folds:" in capsys.readouterr().out


def test_folds_from_an_unknown_or_older_version_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reuse = [*TRAIN_KIT11, "--name", "x", "--folds-from"]
    assert main([*reuse, "nothing"]) == 2
    assert "no model version 'nothing'" in capsys.readouterr().err
    # the seeded cohort's "clinical-v1" was registered without stored folds
    assert main([*reuse, "clinical-v1"]) == 2
    err = capsys.readouterr().err
    assert "'clinical-v1' was trained before folds were stored with a model" in err
    assert main([*TRAIN_KIT11, "--name", "h", "--cv", "holdout"]) == 0
    capsys.readouterr()
    assert main([*reuse, "h"]) == 2
    assert "made for holdout validation; train with --cv holdout" in capsys.readouterr().err


def test_evaluate_reports_the_mean_of_per_center_aucs(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--model", "clinical", "--target", "kit11", "--name", "m"]) == 0
    card = capsys.readouterr().out
    assert main(["evaluate", "--model", "m", "--json"]) == 0
    rows = {r["center"]: r for r in json.loads(capsys.readouterr().out)["tasks"]["kit11_vs_rest"]}
    mean = (rows["Alpha"]["auc"] + rows["Beta"]["auc"]) / 2
    pooled = rows["All centers"]
    assert pooled["center_mean_auc"] == pytest.approx(mean)
    assert pooled["center_mean_auc_ci_lower"] < mean < pooled["center_mean_auc_ci_upper"]
    assert rows["Alpha"]["center_mean_auc"] is None
    assert rows["Alpha"]["center_mean_auc_ci_lower"] is None
    assert main(["evaluate", "--model", "m"]) == 0
    lower, upper = pooled["center_mean_auc_ci_lower"], pooled["center_mean_auc_ci_upper"]
    assert (
        f"mean of the per-center AUCs {mean:.3f} (95 % CI {lower:.3f}–{upper:.3f}), scores "
        "compared within each center only" in capsys.readouterr().out
    )
    # the model card says it too (the same bootstrap: same seed, same patients)
    assert f"mean of the centers' AUCs {mean:.2f} (95 % CI {lower:.2f}–{upper:.2f})" in card


def test_pooled_auc_mixes_score_scales_the_center_mean_does_not() -> None:
    # each center ranks its patients perfectly, on its own scale: B's negatives score above
    # A's positives, so pooling the scores loses what each center's model got right
    oof = pd.DataFrame(
        {
            "center": ["A"] * 4 + ["B"] * 4,
            "label": [0, 0, 1, 1] * 2,
            "p_kit11": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
            "pseudonym": [f"P{i}" for i in range(8)],
        }
    )
    table = evaluate(oof, Target.KIT11).tables["kit11_vs_rest"].set_index("center")
    assert table.loc["A", "auc"] == 1.0 and table.loc["B", "auc"] == 1.0
    assert table.loc["All centers", "auc"] == pytest.approx(12 / 16)
    assert table.loc["All centers", "center_mean_auc"] == 1.0
    assert table["center_mean_auc"].isna().sum() == 2


def test_evaluation_with_ceiling_and_confusion() -> None:
    rng = np.random.default_rng(0)
    n = 120
    label = rng.integers(0, 4, n)
    probs = rng.dirichlet(np.ones(4), n)
    probs[np.arange(n), label] += 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    oof = pd.DataFrame(probs, columns=["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other"])
    oof["label"], oof["pseudonym"] = label, [f"P{i}" for i in range(n)]
    oof["center"] = np.where(np.arange(n) < 100, "Big", "Small")
    oracle = oof[["pseudonym"]].assign(
        p_kit11=(label == 0) * 0.9 + 0.05,
        p_kit_mutant=(label <= 1) * 0.9 + 0.05,
        p_pdgfra=(label == 2) * 0.9 + 0.05,
        p_high_risk=0.5,
    )
    result = evaluate(oof, Target.GENOTYPE, oracle=oracle)
    kit11 = result.tables["kit11_vs_rest"].set_index("center")
    assert kit11.loc["All centers", "ceiling_auc"] == 1.0
    assert kit11.loc["All centers", "auc"] > 0.7
    assert np.isnan(kit11.loc["Small", "auc_ci_lower"]) or kit11.loc["Small", "positives"] >= 5
    matrix = confusion(oof, ("kit11", "kit9", "pdgfra", "wt_other"))
    assert matrix.to_numpy().sum() == n and np.trace(matrix.to_numpy()) > n / 2


def test_a_deep_version_is_rebuilt_with_the_settings_it_was_trained_with() -> None:
    settings = DlSettings(epochs=7, covariates=False)
    stored = json.loads(json.dumps({"epochs": 7, "dl_settings": settings.to_dict()}))
    assert dl_settings_of(ModelVersion(kind=ModelKind.DL, parameters=stored)) == settings
    # registered before the settings were stored: EfficientNet-B0 on the crop alone
    legacy = dl_settings_of(ModelVersion(kind=ModelKind.DL, parameters={"epochs": 3}))
    assert legacy is not None and legacy.epochs == 3
    assert legacy.architecture is Architecture.EFFICIENTNET_B0 and not legacy.covariates
    assert legacy.augment().hu_scale == 0.10 and legacy.augment().hu_shift == 15.0
    # stored before the intensity jitter was a setting: trained with the old jitter
    earlier = {k: v for k, v in DlSettings().to_dict().items() if not k.startswith("intensity")}
    version = ModelVersion(kind=ModelKind.DL, parameters={"dl_settings": earlier})
    rebuilt = dl_settings_of(version)
    assert rebuilt is not None and rebuilt.intensity_shift_hu == 15.0
    assert DlSettings().augment().hu_shift == 0.0 == DlSettings().augment().hu_scale
    clinical = ModelVersion(kind=ModelKind.CLINICAL, parameters={})
    assert dl_settings_of(clinical) is None


def test_predict_and_evaluate_show_progress_and_chunks_change_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gistcad.modelling import trainer
    from gistcad.modelling.learners import ClinicalLearner

    assert main(["train", "--model", "clinical", "--target", "genotype", "--name", "g"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", "g", "--all"]) == 0
    captured = capsys.readouterr()
    assert "80 predictions written" in captured.out and "predicting" in captured.err
    assert main(["evaluate", "--model", "g"]) == 0
    assert "bootstrap" in capsys.readouterr().err
    assert main(["evaluate", "--model", "g", "--json"]) == 0
    assert capsys.readouterr().err == ""  # quiet for scripts
    # chunked prediction equals one pass over the whole table
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "site": rng.choice(["stomach", "jejunum_ileum", "rectum"], 40),
            "size_cm": rng.uniform(1, 15, 40),
            "age_at_diagnosis": rng.uniform(30, 80, 40),
            "sex": rng.choice(["male", "female"], 40),
        }
    )
    learner = ClinicalLearner(n_classes=2, seed=0)
    labels = rng.integers(0, 2, 40)
    fitted = learner.fit(table, labels, np.arange(40))
    calls: list[tuple[str, int | None, int | None]] = []

    def progress(message: str, done: int | None = None, total: int | None = None) -> None:
        calls.append((message, done, total))

    chunked = trainer._predict_in_chunks(learner, fitted, table, progress)
    whole = learner.predict(fitted, table)
    assert np.allclose(chunked.probabilities, whole.probabilities)
    # the clinical model predicts in chunks of TASK_CHUNK patients (4), here in this process
    assert trainer.TASK_CHUNK == 4
    assert calls == [(f"predicted {k}/40", k, 40) for k in range(4, 41, 4)]
