"""Which prediction of a model stands for each patient: out-of-fold, or the final model's.

A model registered by ``gistcad train`` has two kinds of predictions: its out-of-fold
predictions (each training patient predicted by a model fitted without that patient, under
the validation the model was registered with: k-fold, leave-one-center-out or hold-out), and
the final model's predictions (fitted on every training patient). The final model's
prediction of a patient it was trained on is in-sample: it has seen the patient's label, so
grouping those patients by it overstates how well the groups separate. The rule:

- a patient with an out-of-fold prediction is grouped by it;
- a patient the model was never trained on is grouped by the final model's prediction;
- a patient the model was trained on who has no out-of-fold prediction has only an in-sample
  prediction: refused, unless in-sample predictions are asked for explicitly, and then said so.

Asking for in-sample predictions uses the final model's prediction for every patient that has
one (in-sample for its training patients), e.g. to show how much it overstates.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from gistcad.domain import MODEL_KIND_LABELS, RESPONSE_TARGET_LABELS, model_class_label
from gistcad.errors import ValidationError


class PredictionSource(StrEnum):
    """Where a patient's predicted status comes from."""

    OUT_OF_FOLD = "out-of-fold"
    FINAL_UNSEEN = "final model, not trained on"
    FINAL_UNRECORDED = "final model, training patients not recorded"
    IN_SAMPLE = "final model, in-sample"
    NONE = "no prediction"


class PredictionKind(StrEnum):
    """The two kinds of prediction rows a model version has."""

    FINAL = "final model"
    OUT_OF_FOLD = "out-of-fold"


#: the column of a prediction frame that holds the probability of a class, one float per row
#: (NaN where the row has no such class), in the array form of :func:`choose_predictions`
PROBABILITY_PREFIX = "p_"
#: the columns of a prediction frame that are not its values
_ROW_COLUMNS = ("patient_id", "kind", "trained_on")


def probability_column(name: str) -> str:
    """The float column of class ``name``'s probability, e.g. ``p_kit11``."""
    return f"{PROBABILITY_PREFIX}{name}"


VALIDATION_LABELS = {
    "kfold": "k-fold cross-validation",
    "loco": "leave-one-center-out",
    "holdout": "hold-out",
}


def choose_predictions(
    patient_ids: pd.Series, predictions: pd.DataFrame, *, in_sample: bool = False
) -> pd.DataFrame:
    """One prediction per patient, and where it comes from.

    Parameters
    ----------
    patient_ids
        The patients to group.
    predictions
        One model version's predictions: ``patient_id`` and the probabilities, either as
        ``probabilities`` (a mapping per row, class name to probability) or as one float
        column per class (:func:`probability_column`, NaN where a row has no such class);
        optionally ``kind`` (:class:`PredictionKind`, default final model) and
        ``trained_on`` (whether the model was trained on the patient: True, False, or
        missing when the model version does not record it). Of several rows of a patient
        and kind, the last counts.
    in_sample
        Use the final model's prediction for every patient that has one, in-sample for
        the patients it was trained on.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``patient_ids``: ``patient_id``, the probabilities as given
        (``probabilities`` None, or each float column NaN, without a prediction) and
        ``source`` (:class:`PredictionSource` value).

    Raises
    ------
    ValidationError
        When a patient's only prediction is in-sample and ``in_sample`` is False.
    """
    values = [c for c in predictions.columns if c not in _ROW_COLUMNS]
    table = _normalised(predictions, values)
    final = _latest_rows(table[table["kind"] == PredictionKind.FINAL], values)
    oof = _latest_rows(table[table["kind"] == PredictionKind.OUT_OF_FOLD], values)
    ids = patient_ids.to_numpy().astype(np.int64)
    has_final = np.isin(ids, final.index.to_numpy())
    has_oof = np.isin(ids, oof.index.to_numpy())
    use_oof = has_oof & ~(in_sample & has_final)
    trained = final["trained_on"].reindex(ids).to_numpy()
    # the source of a final prediction depends on (trained_on, has an out-of-fold one) only
    recorded = ~np.asarray(pd.isna(trained), dtype=bool)
    trained_on = np.where(recorded, trained, False).astype(bool)
    sources = np.empty(ids.size, dtype=object)
    by_final = ~use_oof & has_final
    only_in_sample = 0
    for known, value, oof_too in itertools.product((False, True), repeat=3):
        rows = by_final & (recorded == known) & (trained_on == value) & (has_oof == oof_too)
        if known or not value:  # (unrecorded, True) does not occur
            source = final_prediction_source(value if known else None, oof_too)
            sources[rows] = source.value
            if source is PredictionSource.IN_SAMPLE:
                only_in_sample += int(np.count_nonzero(rows))
    sources[use_oof] = PredictionSource.OUT_OF_FOLD.value
    sources[~use_oof & ~has_final] = PredictionSource.NONE.value
    chosen = pd.DataFrame(
        {
            "patient_id": ids,
            **{c: _chosen_values(final[c], oof[c], ids, use_oof, has_final) for c in values},
            "source": sources,
        },
        columns=["patient_id", *values, "source"],
    )
    chosen.index = patient_ids.index
    if only_in_sample and not in_sample:
        raise ValidationError(
            f"{only_in_sample} of the selected patients were used to train this model and have "
            "no out-of-fold prediction, so their predicted status would be in-sample and "
            "overstate the separation of the curves; choose a model validated by k-fold or "
            "leave-one-center-out, leave those patients out, or ask for in-sample predictions "
            "explicitly (--in-sample)"
        )
    return chosen


def _chosen_values(
    final: pd.Series, oof: pd.Series, ids: np.ndarray, use_oof: np.ndarray, has_final: np.ndarray
) -> np.ndarray:
    """Per patient of ``ids``, its out-of-fold value where ``use_oof``, else its final
    model's value, else missing (None in an object column, NaN in a float one)."""
    missing = None if final.dtype == object else np.nan
    final_values = final.reindex(ids).to_numpy()
    oof_values = oof.reindex(ids).to_numpy()
    return np.where(use_oof, oof_values, np.where(has_final, final_values, missing))


def _normalised(predictions: pd.DataFrame, values: list[str]) -> pd.DataFrame:
    table = predictions[["patient_id", *values]].copy()
    table["kind"] = predictions.get("kind", PredictionKind.FINAL)
    table["trained_on"] = (
        predictions["trained_on"].astype(object) if "trained_on" in predictions else None
    )
    return table


def _latest_rows(rows: pd.DataFrame, values: list[str]) -> pd.DataFrame:
    """The last row of each patient, indexed by patient id."""
    latest = rows.drop_duplicates("patient_id", keep="last")
    return latest.set_index(latest["patient_id"].astype(np.int64))[[*values, "trained_on"]]


def final_prediction_source(trained_on: bool | None, has_out_of_fold: bool) -> PredictionSource:
    """What the final model's prediction of a patient is: in-sample when the model was
    trained on the patient (or cross-validated it), else not trained on, else unrecorded."""
    recorded = trained_on is not None and not pd.isna(trained_on)
    if has_out_of_fold or (recorded and bool(trained_on)):
        return PredictionSource.IN_SAMPLE
    if recorded:
        return PredictionSource.FINAL_UNSEEN
    return PredictionSource.FINAL_UNRECORDED


@dataclass(frozen=True)
class StandingPrediction:
    """The prediction of one model that stands for a patient (:func:`standing_prediction`).

    ``out_of_fold``: whether it is the prediction of the fold model fitted without the patient
    (else the final model's, of a patient it was not trained on or does not say); ``source``:
    where the final model's own prediction of the patient stands."""

    probabilities: Mapping[str, float]
    predicted_class: str
    out_of_fold: bool
    source: PredictionSource


def standing_prediction(row: Mapping[str, Any]) -> StandingPrediction | None:
    """The prediction that stands for the patient of ``row`` (a row of
    :func:`gistcad.store.model_queries.patient_predictions`), the one rule of every place that
    shows or sends one: the out-of-fold prediction when there is one, else the final model's
    unless it is in-sample; None when the model was trained on the patient and has no
    out-of-fold prediction of them (its only prediction would report what it was fitted to)."""
    oof = row.get("out_of_fold")
    oof = oof if isinstance(oof, Mapping) and oof else None
    source = final_prediction_source(row.get("trained_on"), oof is not None)
    if oof is not None:
        return StandingPrediction(oof, str(max(oof, key=lambda k: oof[k])), True, source)
    if source is PredictionSource.IN_SAMPLE:
        return None
    probabilities = row.get("probabilities") or {}
    return StandingPrediction(probabilities, str(row["predicted_class"]), False, source)


def source_counts(groups: pd.Series, sources: pd.Series) -> pd.DataFrame:
    """Patients per group and prediction source: ``group``, ``source``, ``n`` (no zeros)."""
    counts = (
        pd.DataFrame({"group": groups.to_numpy(), "source": sources.to_numpy()})
        .value_counts()
        .rename("n")
        .reset_index()
    )
    order = {source.value: i for i, source in enumerate(PredictionSource)}
    counts["rank"] = counts["source"].map(order)
    counts = counts.sort_values(["group", "rank"]).drop(columns="rank")
    return counts.reset_index(drop=True).astype({"n": int})


def describe_sources(counts: pd.DataFrame, validation: str | None = None) -> dict[str, str]:
    """Per group, its sources in words: ``"out-of-fold (k-fold cross-validation) 28; ..."``."""
    label = {
        PredictionSource.OUT_OF_FOLD.value: (
            f"out-of-fold ({VALIDATION_LABELS.get(validation or '', validation)})"
            if validation
            else "out-of-fold"
        )
    }
    return {
        str(group): "; ".join(
            f"{label.get(str(row.source), str(row.source))} {int(row.n)}"
            for row in rows.itertuples(index=False)
        )
        for group, rows in counts.groupby("group", sort=False)
    }


@dataclass(frozen=True)
class PredictionText:
    """One stored prediction in words, for the case card and the printed report.

    ``heading`` names the model, its kind, date and where its final prediction of this
    patient stands (``source``: in-sample, not trained on, or not recorded);
    ``out_of_fold_heading`` and ``out_of_fold_class`` are set when the patient has an
    out-of-fold prediction (the honest one for a training patient). ``withheld``: when the
    model was trained on the patient and has no out-of-fold prediction of them, why no
    prediction stands for the patient (see :attr:`shown`). ``summary``: for a response
    target, the probability of the response in words, e.g. "Predicted Choi response at the
    first follow-up CT (about 2 months): 72 % (clinical-…, out-of-fold)" (the out-of-fold
    probability when there is one; None when the only one is in-sample).
    """

    heading: str
    predicted_class: str
    probabilities: str
    source: PredictionSource
    out_of_fold_heading: str | None = None
    out_of_fold_class: str | None = None
    out_of_fold_probabilities: str | None = None
    warning: str | None = None
    summary: str | None = None
    withheld: str | None = None

    @property
    def shown(self) -> tuple[str, str, str] | None:
        """The heading, class and probabilities that stand for this patient
        (:func:`standing_prediction`): the out-of-fold ones when there are, else the final
        model's unless they are in-sample (None: see ``withheld``)."""
        if self.out_of_fold_class is not None:
            return (
                str(self.out_of_fold_heading),
                self.out_of_fold_class,
                str(self.out_of_fold_probabilities),
            )
        if self.withheld is not None:
            return None
        return self.heading, self.predicted_class, self.probabilities

    @property
    def plain(self) -> str:
        """The prediction that stands for this patient on one line, without markup (or why
        there is none), with the warning that the final model's is in-sample."""
        shown = self.shown
        if shown is None:
            line = str(self.withheld)
        else:
            heading, cls, probabilities = shown
            line = f"{heading}: {cls} ({probabilities})"
            if self.warning is not None:
                line += f". {self.warning}"
        if self.summary is not None:
            line = f"{self.summary}. {line}"
        return line


def _percentages(probabilities: Mapping[str, float]) -> str:
    """E.g. "KIT exon 11 67 %, KIT exon 9 20 %, ...": the classes as labelled."""
    return ", ".join(f"{model_class_label(k)} {v:.0%}" for k, v in sorted(probabilities.items()))


def _in_sample_warning(model: str, source: PredictionSource, only: bool) -> str | None:
    """That the final prediction is in-sample (None when it is not)."""
    if source is not PredictionSource.IN_SAMPLE:
        return None
    if only:
        return (
            f"{model} was trained on this patient and has no out-of-fold prediction of them: "
            "its final prediction is in-sample."
        )
    return (
        f"{model} was trained on this patient: its final prediction is in-sample; the "
        "out-of-fold prediction is the honest one."
    )


def prediction_text(row: Mapping[str, Any]) -> PredictionText:
    """Words for one row of :func:`gistcad.store.model_queries.patient_predictions`."""
    standing = standing_prediction(row)
    source = PredictionSource.IN_SAMPLE if standing is None else standing.source
    model = row["model"]
    kind = MODEL_KIND_LABELS.get(row["kind"], str(row["kind"]))
    validation = row.get("validation") or ""
    validation_words = VALIDATION_LABELS.get(validation, validation) or "no out-of-fold validation"
    heading = f"{model} ({kind}, {row['created_at']:%Y-%m-%d})"
    in_sample_only = standing is None
    text = PredictionText(
        heading=f"{heading}, {source.value}",
        predicted_class=model_class_label(str(row["predicted_class"])),
        probabilities=_percentages(row["probabilities"]),
        source=source,
        warning=_in_sample_warning(model, source, in_sample_only),
        withheld=(
            f"{heading}: no prediction shown — this patient was used to train {model}, which "
            f"has no out-of-fold prediction of them ({validation_words}); its final "
            "prediction would be in-sample."
            if in_sample_only
            else None
        ),
    )
    target = row.get("target")
    if isinstance(target, str) and target in RESPONSE_TARGET_LABELS and standing is not None:
        chosen = standing.probabilities
        how = "out-of-fold" if standing.out_of_fold else source.value
        if target in chosen:
            text = replace(
                text,
                summary=f"{RESPONSE_TARGET_LABELS[target]}: {chosen[target]:.0%} ({model}, {how})",
            )
    if standing is None or not standing.out_of_fold:
        return text
    return replace(
        text,
        out_of_fold_heading=(
            f"{model}, out-of-fold ({validation_words}; fitted without this patient)"
        ),
        out_of_fold_class=model_class_label(standing.predicted_class),
        out_of_fold_probabilities=_percentages(standing.probabilities),
    )
