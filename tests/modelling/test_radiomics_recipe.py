"""A radiomics version stores the features and pipeline it was trained with (its recipe) and
predicts with them whatever ``gistcad train`` defaults to: the model search by default, the
tuned logistic regression when asked (``--radiomics logistic``) and for every version
registered before the recipe was stored.

The cohort is the discovery tests' (radiomics features in the feature cache, one patient's
tumour not describable, so N - 1 patients train and are predicted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from gistcad.cli import main
from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.radiomics_model import (
    LOGISTIC,
    SEARCH,
    CaseImages,
    RadiomicsLearner,
    RadiomicsRecipe,
    cache_path,
    patient_features,
)
from gistcad.modelling.radiomics_search import SearchSettings, search_candidates
from gistcad.modelling.request import MAX_RADIOMICS_ENSEMBLE, TrainRequest
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import (
    _inputs_text,
    make_learner,
    predict,
    radiomics_recipe_of,
    request_of,
    train,
)
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import ModelVersion, Prediction
from tests.biomarkers.test_deep_risk_candidate import N
from tests.modelling.conftest import CALCIFIED

EVERYTHING = AccessScope.everything()


def _probabilities(engine: Engine, version_id: int) -> dict[int, dict[str, float]]:
    with session_scope(engine) as session:
        stmt = select(Prediction.patient_id, Prediction.probabilities).where(
            Prediction.model_version_id == version_id
        )
        return {int(p): dict(v) for p, v in session.execute(stmt)}


def test_recipes_survive_json() -> None:
    for recipe in (SEARCH, LOGISTIC, RadiomicsRecipe(LOGISTIC.settings, SearchSettings())):
        stored = json.loads(json.dumps(recipe.to_dict()))
        assert RadiomicsRecipe.from_stored(stored) == recipe
    assert SEARCH.settings.solid_part and SEARCH.search == SearchSettings()
    assert not LOGISTIC.settings.solid_part and LOGISTIC.search is None


def test_the_search_is_trained_by_default_and_stored_with_its_version(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = cached_cohort
    request = TrainRequest(ModelKind.RADIOMICS, Target.KIT11, seed=2, name="searched")
    with session_scope(engine) as session:
        version = train(session, EVERYTHING, data_dir, request)
        # the genotype model leaves the undescribable tumour out, as the risk score does
        # (tests/modelling/test_undescribed_tumours.py)
        assert version.metrics["n_patients"] == N - 1
        assert version.metrics["undescribed_patients"] == [CALCIFIED]
        assert version.parameters["radiomics_recipe"] == SEARCH.to_dict()
        assert "radiomics" not in version.parameters  # the request's default
        assert radiomics_recipe_of(version) == SEARCH
        card = version.metrics["card"]
        assert "IBSI radiomics features of the CT tumour region and of its solid part" in card
        assert (
            "with site, tumour size, age and sex (an ensemble of every classifier of a model grid "
            "(up to 16)" in card
        )
        assert "fitted on the four genotype classes (their probability of KIT exon 11)" in card
        version_id = version.id
    with session_scope(engine) as session:
        assert predict(session, EVERYTHING, data_dir, version_id).written == N - 1
    assert len(_probabilities(engine, version_id)) == N - 1


def test_the_logistic_pipeline_and_versions_from_before_the_recipe_predict_as_trained(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine, data_dir, _ = cached_cohort
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GISTCAD_DB_URL", engine.url.render_as_string(hide_password=False))
    train_kit11 = ["train", "--model", "radiomics", "--target", "kit11", "--seed", "2"]
    assert main([*train_kit11, "--radiomics", "logistic", "--name", "logistic"]) == 0
    assert "(tuned logistic regression)" in capsys.readouterr().out  # the card
    with session_scope(engine) as session:
        version = session.scalars(select(ModelVersion).where(ModelVersion.name == "logistic")).one()
        assert version.parameters["radiomics"] == "logistic"
        assert version.parameters["radiomics_recipe"] == LOGISTIC.to_dict()
        version_id = version.id
    with session_scope(engine) as session:
        assert predict(session, EVERYTHING, data_dir, version_id).written == N - 1
    trained = _probabilities(engine, version_id)
    # as a version registered before the option and the recipe existed was stored
    with session_scope(engine) as session:
        version = session.get(ModelVersion, version_id)
        assert version is not None
        version.parameters = {
            k: v
            for k, v in version.parameters.items()
            if k not in ("radiomics", "radiomics_recipe")
        }
    with session_scope(engine) as session:
        version = session.get(ModelVersion, version_id)
        assert version is not None and radiomics_recipe_of(version) == LOGISTIC
        assert request_of(version).radiomics == "logistic"  # not the request's default
        assert predict(session, EVERYTHING, data_dir, version_id).written == N - 1
    again = _probabilities(engine, version_id)
    assert again.keys() == trained.keys()
    for patient, probabilities in trained.items():
        assert again[patient] == pytest.approx(probabilities, abs=1e-12)


def test_the_imaging_risk_score_has_no_radiomics_recipe(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = cached_cohort
    with session_scope(engine) as session:
        version = train(
            session, EVERYTHING, data_dir, TrainRequest(ModelKind.RADIOMICS, Target.RFS)
        )
        assert "radiomics_recipe" not in version.parameters
        assert radiomics_recipe_of(version) is None


def test_the_command_refuses_a_radiomics_pipeline_for_another_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["train", "--model", "clinical", "--radiomics", "logistic"]) == 2
    err = capsys.readouterr().err
    assert "--radiomics logistic chooses the radiomics model's pipeline" in err
    assert "Traceback" not in err


def test_the_logistic_pipeline_reads_the_features_the_search_extracted(tmp_path: Path) -> None:
    """The whole tumour's features of a patient whose features with the solid part are cached
    are taken from that entry, ``solid_`` ones dropped, without reading the images (there are
    none here); an entry of their own is kept as it is."""
    first = CaseImages("missing.nii", "missing_mask.nii", "a" * 64, "c" * 64)
    second = CaseImages("missing.nii", "missing_mask.nii", "b" * 64, "d" * 64)
    solid = cache_path(tmp_path, first, SEARCH.settings)
    solid.parent.mkdir(parents=True)
    solid.write_text(json.dumps({"stat_mean": 40.0, "morph_volume": 9.0, "solid_p50": 55.0}))
    # the second patient's whole-tumour features are there already: left as they are
    plain_second = cache_path(tmp_path, second, LOGISTIC.settings)
    plain_second.write_text(json.dumps({"stat_mean": 1.0}))
    assert patient_features(tmp_path, first, LOGISTIC.settings) == {
        "stat_mean": 40.0,
        "morph_volume": 9.0,
    }
    plain_first = cache_path(tmp_path, first, LOGISTIC.settings)
    assert json.loads(plain_first.read_text()) == {"stat_mean": 40.0, "morph_volume": 9.0}
    assert patient_features(tmp_path, second, LOGISTIC.settings) == {"stat_mean": 1.0}
    assert json.loads(plain_second.read_text()) == {"stat_mean": 1.0}
    # an undescribed tumour stays undescribed; the search's own entry is not derived
    undescribed = CaseImages("missing.nii", "missing_mask.nii", "e" * 64, "f" * 64)
    cache_path(tmp_path, undescribed, SEARCH.settings).write_text("{}")
    assert patient_features(tmp_path, undescribed, LOGISTIC.settings) == {}
    with pytest.raises(ValidationError, match=r"missing\.nii: no such file"):  # extracted
        patient_features(tmp_path, second, SEARCH.settings)


def test_the_search_keeps_the_best_few_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--radiomics-ensemble N``: the search keeps its best N candidates by inner
    cross-validation, as WORC does; the recipe stored with the version says so, and so does
    its card. Refused where there is no search."""
    asked = TrainRequest.from_parameters(
        {"kind": "radiomics", "target": "kit11", "radiomics_ensemble": 3}
    )
    assert asked.radiomics_ensemble == 3 and asked.default_name().endswith("-best3")
    assert TrainRequest.from_parameters(asked.to_parameters()) == asked  # a job's round trip
    assert (
        "radiomics_ensemble" not in TrainRequest(ModelKind.RADIOMICS, Target.KIT11).to_parameters()
    )
    # every candidate is the default: a choice keeps fewer than the grid holds
    assert SEARCH.search is not None
    assert search_candidates(SEARCH.search) - 1 == MAX_RADIOMICS_ENSEMBLE
    learner = make_learner(asked, tmp_path)
    assert isinstance(learner, RadiomicsLearner) and learner.search_settings is not None
    assert learner.search_settings.ensemble_size == 3
    assert learner.recipe == RadiomicsRecipe.named("search", 3)
    assert learner.recipe.to_dict()["search"]["ensemble_size"] == 3  # stored with the version
    text = _inputs_text(ModelKind.RADIOMICS, None, Target.KIT11, None, learner.recipe)
    assert "an ensemble of the best 3 classifiers of a model search by inner cross-validation" in (
        text
    )
    for parameters, message in (
        ({"kind": "clinical", "radiomics_ensemble": 3}, "--radiomics-ensemble sets how many"),
        (
            {"kind": "radiomics", "radiomics": "logistic", "radiomics_ensemble": 3},
            "not --radiomics",
        ),
        ({"kind": "radiomics", "target": "rfs", "radiomics_ensemble": 3}, "imaging risk score"),
        ({"kind": "radiomics", "radiomics_ensemble": 0}, "between 1 and 15"),
        ({"kind": "radiomics", "radiomics_ensemble": 16}, "between 1 and 15"),
    ):
        with pytest.raises(ValidationError, match=message):
            TrainRequest.from_parameters(parameters)

    from gistcad.modelling import trainer

    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    requests: list[TrainRequest] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        requests.append(args[3])
        raise ValidationError("stopped before training")

    monkeypatch.setattr(trainer, "train_and_register", record)
    assert main(["train", "--model", "radiomics", "--radiomics-ensemble", "4"]) == 2
    assert [r.radiomics_ensemble for r in requests] == [4]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "--model", "radiomics", "--radiomics-ensemble", "0"])
    assert "outside the allowed range of candidates" in capsys.readouterr().err
