"""A training request's round trip through a job's parameters, and what it refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target, trainable_targets
from gistcad.modelling.trainer import make_learner


def test_round_trip_through_json_keeps_every_field() -> None:
    request = TrainRequest.from_parameters(
        {
            "kind": "dl",
            "target": "kit11",
            "scheme": "loco",
            "name": " deep-1 ",
            "seed": 7,
            "epochs": 3,
            "folds_from": " clinical-1 ",
        }
    )
    assert request == TrainRequest.from_parameters(
        {
            "kind": ModelKind.DL,
            "target": Target.KIT11,
            "scheme": Scheme.LOCO,
            "name": "deep-1",
            "seed": 7,
            "epochs": 3,
            "folds_from": "clinical-1",
        }
    )
    stored = json.loads(json.dumps(request.to_parameters()))
    assert stored == {
        "kind": "dl",
        "target": "kit11",
        "scheme": "loco",
        "name": "deep-1",
        "seed": 7,
        "epochs": 3,
        "folds_from": "clinical-1",
        "deep_model": None,
    }
    assert TrainRequest.from_parameters(stored) == request


def test_the_deep_models_risk_score_is_an_input_of_the_imaging_risk_score_only() -> None:
    request = TrainRequest.from_parameters(
        {"kind": "radiomics", "target": "rfs", "deep_model": " deep-1 "}
    )
    assert request.deep_model == "deep-1"
    assert request.default_name() == "radiomics-rfs-kfold-s0-deep"
    assert TrainRequest.from_parameters(request.to_parameters()) == request
    assert TrainRequest.from_parameters({"kind": "dl", "deep_model": " "}).deep_model is None
    with pytest.raises(ValidationError, match="--deep-model with --model radiomics --target rfs"):
        TrainRequest.from_parameters({"kind": "radiomics", "target": "risk", "deep_model": "d"})
    with pytest.raises(ValidationError, match="the deep model is named by a model version's id"):
        TrainRequest.from_parameters({"kind": "radiomics", "target": "rfs", "deep_model": [1]})


def test_the_radiomics_pipeline_is_the_search_unless_the_logistic_one_is_asked_for() -> None:
    searched = TrainRequest.from_parameters({"kind": "radiomics", "target": "kit11"})
    assert searched.radiomics == "search"
    assert "radiomics" not in searched.to_parameters()  # stored as before the option existed
    asked = {"kind": "radiomics", "target": "progression_6m", "radiomics": "logistic"}
    logistic = TrainRequest.from_parameters(asked)
    assert logistic.radiomics == "logistic"
    # not the search's name: both pipelines can be trained with the default names
    assert logistic.default_name() == "radiomics-progression_6m-kfold-s0-logistic"
    assert searched.default_name() == "radiomics-kit11-kfold-s0"
    stored = json.loads(json.dumps(logistic.to_parameters()))
    assert stored["radiomics"] == "logistic"
    assert TrainRequest.from_parameters(stored) == logistic
    assert TrainRequest.from_parameters({"kind": "dl", "radiomics": "search"}).radiomics == "search"
    for refused in (
        {"kind": "clinical", "radiomics": "logistic"},
        {"kind": "dl", "radiomics": "logistic"},
        {"kind": "radiomics", "target": "rfs", "radiomics": "logistic"},
    ):
        with pytest.raises(ValidationError, match=r"use it with --model radiomics .*Cox model"):
            TrainRequest.from_parameters(refused)
    with pytest.raises(ValidationError, match=r"^unknown radiomics model 'forest': search"):
        TrainRequest.from_parameters({"kind": "radiomics", "radiomics": "forest"})


def test_folds_from_names_a_version_by_id_or_name() -> None:
    assert TrainRequest.from_parameters({"kind": "dl", "folds_from": 12}).folds_from == "12"
    assert TrainRequest.from_parameters({"kind": "dl", "folds_from": "  "}).folds_from is None
    assert TrainRequest.from_parameters({"kind": "dl"}).folds_from is None


def test_defaults_and_a_job_s_own_keys_left_alone() -> None:
    request = TrainRequest.from_parameters(
        {"kind": "clinical", "device": "cpu", "predict_all": True, "pid": 12}
    )
    assert request.target is Target.GENOTYPE and request.scheme is Scheme.KFOLD
    assert request.seed == 0 and request.epochs is None and request.name is None
    assert request.folds_from is None
    assert request.default_name() == "clinical-genotype-kfold-s0"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "a training run needs a model kind: one of dl, radiomics, clinical"),
        ({"kind": "forest"}, "unknown model kind 'forest'; one of dl, radiomics, clinical"),
        ({"kind": "dl", "target": "kit9"}, "unknown target 'kit9'; one of genotype, kit11, risk"),
        ({"kind": "dl", "scheme": "bootstrap"}, "unknown validation 'bootstrap'"),
        ({"kind": "dl", "epochs": 0}, "epochs must lie between 1 and 1000, not 0"),
        ({"kind": "dl", "epochs": 2.5}, "epochs must be a whole number, not 2.5"),
        ({"kind": "dl", "epochs": "12"}, "epochs must be a whole number, not '12'"),
        ({"kind": "dl", "seed": -1}, "seed must lie between 0 and 4294967295, not -1"),
        ({"kind": "dl", "seed": True}, "seed must be a whole number, not True"),
        ({"kind": "dl", "name": "  "}, "a model version name must be some text"),
        (
            {"kind": "dl", "folds_from": ["a"]},
            "the folds to reuse are named by a model version's id or name, not ['a']",
        ),
    ],
)
def test_bad_parameters_say_what_is_wrong(parameters: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=f"^{re.escape(message)}"):
        TrainRequest.from_parameters(parameters)


def test_only_the_radiomics_model_trains_the_risk_score_and_the_others_are_refused(
    tmp_path: Path,
) -> None:
    assert Target.RFS in trainable_targets(ModelKind.RADIOMICS)
    assert set(trainable_targets(ModelKind.RADIOMICS)) == set(Target)
    for kind in (ModelKind.CLINICAL, ModelKind.DL):
        assert set(trainable_targets(kind)) == set(Target) - {Target.RFS}
        request = TrainRequest(kind=kind, target=Target.RFS)
        with pytest.raises(ValidationError, match="train it with --model radiomics"):
            make_learner(request, tmp_path)
