"""Which genotype prediction the SR sent to the PACS reports: the series' own, never in-sample."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from gistcad.pacs.push import genotype_call

REGISTERED = dt.datetime(2026, 11, 2)


def _row(
    version: int,
    name: str,
    *,
    series_id: int | None,
    predicted: str = "kit11",
    probabilities: dict[str, float] | None = None,
    trained_on: bool | None = False,
    out_of_fold: dict[str, float] | None = None,
    target: str = "genotype",
) -> dict[str, Any]:
    return {
        "model_version_id": version,
        "model": name,
        "target": target,
        "model_created_at": REGISTERED,
        "series_id": series_id,
        "predicted_class": predicted,
        "probabilities": probabilities or {"kit11": 0.7, "pdgfra": 0.3},
        "trained_on": trained_on,
        "out_of_fold": out_of_fold,
    }


def test_the_prediction_of_another_series_is_not_reported_beside_this_one() -> None:
    rows = pd.DataFrame(
        [
            _row(2, "deep-fu", series_id=2, predicted="pdgfra", probabilities={"pdgfra": 0.7}),
            _row(1, "deep-baseline", series_id=1),
        ]
    )
    call = genotype_call(rows, series_id=1)
    assert call is not None and call.model == "deep-baseline"
    assert (call.predicted_class, call.probability) == ("kit11", 0.7)
    assert call.version == "registered 2026-11-02, final"
    assert genotype_call(rows, series_id=3) is None
    # a clinical model predicts from no image: it describes the patient, whichever series
    clinical = pd.DataFrame([_row(3, "clinical", series_id=None)])
    assert genotype_call(clinical, series_id=3) is not None
    # a model that does not record its training patients says so
    unknown = pd.DataFrame([_row(4, "old", series_id=1, trained_on=None)])
    call = genotype_call(unknown, series_id=1)
    assert call is not None and call.version == "registered 2026-11-02, final, training unknown"


def test_a_training_patient_gets_the_out_of_fold_prediction_and_never_an_in_sample_one() -> None:
    oof = {"kit11": 0.2, "pdgfra": 0.8}
    rows = pd.DataFrame(
        [
            # newest: trained on the patient, no out-of-fold prediction (a hold-out model)
            _row(3, "holdout", series_id=1, trained_on=True),
            _row(2, "kfold", series_id=1, trained_on=True, out_of_fold=oof),
        ]
    )
    call = genotype_call(rows, series_id=1)
    assert call is not None and call.model == "kfold"
    assert (call.predicted_class, call.probability, call.label) == ("pdgfra", 0.8, "PDGFRA")
    assert call.version.endswith("out-of-fold")
    assert genotype_call(rows.iloc[:1], series_id=1) is None
