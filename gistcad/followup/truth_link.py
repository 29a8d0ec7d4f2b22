"""The automatic response categories against a synthetic cohort's truth (measuring only).

``gistcad demo build`` writes ``follow_up_categories.csv``: the RECIST 1.1 and Choi category of
every treated patient's follow-up CT, from the generator's truth measurements
(:func:`gistcad.synth.follow_up.truth_categories`). It names patients by center and hospital id,
as the center's export did; the store knows only pseudonyms, so the pseudonym is recomputed with
the data folder's key (as :mod:`gistcad.modelling.oracle_link` does for ``oracle.csv``). The
truth is never imported and never a feature: it is read only to measure the assessment.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gistcad.domain import ResponseCriteria
from gistcad.errors import ValidationError
from gistcad.followup.assessment import CohortRun
from gistcad.ingest.pseudonym import Pseudonymizer

#: ``follow_up_categories.csv``'s category column of each criteria.
TRUTH_COLUMN = {
    ResponseCriteria.RECIST_1_1: "recist_category",
    ResponseCriteria.CHOI: "choi_category",
}
_KEY = ["pseudonym", "timepoint", "criteria"]


def load_truth_categories(path: Path, pseudonymizer: Pseudonymizer) -> pd.DataFrame:
    """The truth categories of ``follow_up_categories.csv``, one row per patient, follow-up
    timepoint and criteria: ``pseudonym``, ``center``, ``hospital_id``, ``timepoint``,
    ``criteria`` and ``truth`` (category values of :class:`~gistcad.domain.ResponseCategory`).

    Raises
    ------
    ValidationError
        When the file is missing or is not a categories file.
    """
    if not path.is_file():
        raise ValidationError(
            f"{path}: no truth categories (gistcad demo build writes follow_up_categories.csv "
            "beside oracle.csv when the cohort has follow-up)"
        )
    try:
        frame = pd.read_csv(path, dtype={"hospital_id": str, "center": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(f"{path}: not a readable CSV ({exc})") from None
    needed = {"center", "hospital_id", "timepoint", *TRUTH_COLUMN.values()}
    if missing := needed - set(frame.columns):
        raise ValidationError(
            f"{path}: not a truth categories file (missing {', '.join(sorted(missing))})"
        )
    frame["pseudonym"] = [
        pseudonymizer.pseudonym(c, h)
        for c, h in zip(frame["center"], frame["hospital_id"], strict=True)
    ]
    long = [
        frame[["pseudonym", "center", "hospital_id", "timepoint"]].assign(
            criteria=criteria.value, truth=frame[column].astype(str)
        )
        for criteria, column in TRUTH_COLUMN.items()
    ]
    return pd.concat(long, ignore_index=True)


def automatic_categories(run: CohortRun) -> pd.DataFrame:
    """The categories :func:`~gistcad.followup.assessment.assess_cohort` stored, one row per
    patient, follow-up timepoint and criteria: ``pseudonym``, ``timepoint``, ``criteria``,
    ``automatic`` and ``reason``."""
    rows = [
        {
            "pseudonym": patient.pseudonym,
            "timepoint": a.visit,
            "criteria": a.criteria.value,
            "automatic": a.category.value,
            "reason": a.reason,
        }
        for patient in run.runs
        for a in patient.assessments
    ]
    return pd.DataFrame(rows, columns=[*_KEY, "automatic", "reason"])


def compare_with_truth(automatic: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Every truth assessment beside the automatic one (``automatic`` is ``"missing"`` where
    the assessment stored none) and whether they ``agree``; automatic assessments without a
    truth row (untreated patients assessed at baseline only) have no follow-up and are absent."""
    merged = truth.merge(automatic, on=_KEY, how="left")
    merged["automatic"] = merged["automatic"].fillna("missing")
    merged["agree"] = merged["automatic"] == merged["truth"]
    return merged


def agreement(compared: pd.DataFrame) -> pd.DataFrame:
    """Per criteria: ``assessments``, ``agreeing`` and their ``fraction``."""
    grouped = compared.groupby("criteria", sort=True)["agree"]
    out = pd.DataFrame({"assessments": grouped.size(), "agreeing": grouped.sum()})
    out["fraction"] = out["agreeing"] / out["assessments"]
    return out
