"""Evaluate an imaging risk score for recurrence-free survival out of fold, beside the schemes.

From the out-of-fold frame of a survival model (``risk_score``, the predicted 5-year
recurrence-free probability ``p_no_recurrence_5y``, ``rfs_months``, ``rfs_event``, ``center``)
and the clinical references of the same patients (``size_cm``; ``modified_nih``, the modified
NIH 2008 class as an ordinal score 0 very low … 3 high; these are references, never inputs of
the model), per center and pooled:

- Harrell's C, Uno's C up to :data:`TAU_MONTHS`, the cumulative/dynamic AUC at 2 and 5 years
  (:mod:`gistcad.analysis.survival_metrics`), and Harrell's and Uno's C of size alone and of
  the modified NIH class on the same patients;
- the added value over the schemes: ΔC of the score against the modified NIH class and
  against size alone, in Harrell's C (``delta_c``) and in Uno's C up to :data:`TAU_MONTHS`
  (``delta_c_uno``: its limit does not depend on the censoring, which differs between
  centers), each with a paired bootstrap 95 % CI;

and pooled: the likelihood-ratio test of the score added to a Cox model of the modified NIH
class, both as an ordinal score and as class indicators (:func:`class_indicators`), and of
log size, the calibration at 5 years by risk tertile with its slope, and each
patient's out-of-fold risk tertile for the Kaplan–Meier figure.

The pooled rows rank scores of different folds' models together (as the genotype models'
pooled AUC does); the per-center rows compare scores within a center.

The deep model's Cox risk head (:mod:`gistcad.modelling.dl_model`, trained beside a genotype or
response target) is judged the same way by :func:`evaluate_risk_head`, on its out-of-fold
``risk_score`` and the references the trainer stores beside it; it has no baseline hazard, so no
calibration (:data:`RISK_HEAD_CALIBRATION_NOTE`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.analysis.grouping import risk_groups
from gistcad.analysis.imaging_risk import TERTILE_LABELS
from gistcad.analysis.performance import concordance_index
from gistcad.analysis.survival_metrics import (
    ConcordanceKind,
    calibration_at,
    compare_concordance,
    concordance_interval,
    cumulative_dynamic_auc,
    likelihood_ratio_test,
    uno_concordance,
)
from gistcad.domain import RiskClass, RiskScheme
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

POOLED = "All centers"
#: Uno's C is truncated here (months): beyond, few patients are followed and the weights
#: 1/Ĝ² grow unstable
TAU_MONTHS = 60.0
#: the times of the time-dependent AUC (months)
AUC_MONTHS = (24.0, 60.0)
#: the time of the calibration (months)
CALIBRATION_MONTHS = 60.0
#: the references the score is compared with: the out-of-fold column → what it is called
REFERENCES = {"modified_nih": "Modified NIH 2008", "size_cm": "Tumour size alone"}
_ORDINAL = {
    RiskClass.VERY_LOW.label: 0.0,
    RiskClass.LOW.label: 1.0,
    RiskClass.INTERMEDIATE.label: 2.0,
    RiskClass.HIGH.label: 3.0,
}


def reference_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per row of the modelling ``table``: ``patient_id``, ``size_cm`` and ``modified_nih``
    (the class as 0..3; NaN when unknown or not classifiable)."""
    classes = risk_groups(table, RiskScheme.MODIFIED_NIH_2008)
    return pd.DataFrame(
        {
            "patient_id": table["patient_id"].to_numpy(),
            "size_cm": pd.to_numeric(table["size_cm"], errors="coerce").to_numpy(dtype=float),
            "modified_nih": classes.map(_ORDINAL).to_numpy(dtype=float),
        }
    )


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _metrics_row(center: str, part: pd.DataFrame, seed: int, n_boot: int) -> dict[str, Any]:
    score, t, e = part["risk_score"], part["rfs_months"], part["rfs_event"]
    row: dict[str, Any] = {"center": center, "n": len(part), "events": int(e.sum())}
    row["harrell_c"] = concordance_index(score, t, e)
    try:
        interval = concordance_interval(score, t, e, n_boot=n_boot, seed=seed)
        row["harrell_c_ci_lower"], row["harrell_c_ci_upper"] = interval.ci_lower, interval.ci_upper
    except ValidationError:
        row["harrell_c_ci_lower"] = row["harrell_c_ci_upper"] = np.nan
    row["uno_c"] = uno_concordance(score, t, e, tau=TAU_MONTHS) if e.any() else np.nan
    for months in AUC_MONTHS:
        row[f"auc_{int(months)}m"] = cumulative_dynamic_auc(score, t, e, months)
    for column in REFERENCES:
        known = part[column].notna()
        reference, tk, ek = part.loc[known, column], t[known], e[known]
        row[f"{column}_c"] = concordance_index(reference, tk, ek)
        row[f"{column}_uno_c"] = (
            uno_concordance(reference, tk, ek, tau=TAU_MONTHS) if ek.any() else np.nan
        )
    return {k: _clean(v) for k, v in row.items()}


def _delta_rows(
    center: str,
    part: pd.DataFrame,
    seed: int,
    n_boot: int,
    kind: ConcordanceKind = ConcordanceKind.HARRELL,
) -> list[dict[str, Any]]:
    """ΔC rows of ``part`` against each reference, in Harrell's C or in Uno's up to τ."""
    rows = []
    tau = TAU_MONTHS if kind is ConcordanceKind.UNO else None
    for column, name in REFERENCES.items():
        known = part[part[column].notna()]
        if known["rfs_event"].sum() < 2 or len(known) < 10:
            continue
        try:
            delta = compare_concordance(
                known["risk_score"],
                known[column],
                known["rfs_months"],
                known["rfs_event"],
                kind=kind,
                tau=tau,
                n_boot=n_boot,
                seed=seed,
            )
        except ValidationError:
            continue
        if not np.isfinite(delta.delta):  # Uno's: no event before τ
            continue
        rows.append(
            {
                "center": center,
                "reference": name,
                "n": len(known),
                "c_score": delta.c_a,
                "c_reference": delta.c_b,
                "delta_c": delta.delta,
                "ci_lower": delta.ci_lower,
                "ci_upper": delta.ci_upper,
                "p": delta.p,
            }
        )
    return [{k: _clean(v) for k, v in r.items()} for r in rows]


def class_indicators(ordinal: ArrayLike, event_observed: ArrayLike) -> FloatArray:
    """Indicator (dummy) columns of an ordinal risk class, the lowest group the reference.

    A clinical paper adds a score to a categorical scheme as k − 1 indicators, so that the
    test does not assume equal log hazard ratio steps between the classes. A class with no
    recurrence would have an infinite log hazard ratio (no finite Cox fit), so classes are
    grouped in order: each group collects consecutive classes until it holds a recurrence,
    and classes above the last recurrence join the last group (for the modified NIH 2008
    scheme typically: very low and low together as the reference).

    Parameters
    ----------
    ordinal : array_like, shape (n,)
        The class as an ordinal code (e.g. 0 very low … 3 high); finite.
    event_observed : array_like, shape (n,)
        Recurrence indicator.

    Returns
    -------
    ndarray, shape (n, g − 1)
        One column per group above the reference (1 in the group, else 0); g is the number
        of groups (no column when every patient is in one group).
    """
    codes = np.asarray(ordinal, dtype=float)
    events = np.asarray(event_observed, dtype=float) > 0
    group_of: dict[float, int] = {}
    group, has_event = 0, False
    for code in np.unique(codes):
        if has_event:
            group, has_event = group + 1, False
        group_of[float(code)] = group
        has_event = bool(events[codes == code].any())
    if not has_event and group > 0:  # classes above the last recurrence join the last group
        last = [code for code, g in group_of.items() if g == group]
        group_of.update(dict.fromkeys(last, group - 1))
        group -= 1
    groups = np.array([group_of[float(code)] for code in codes], dtype=int)
    return (groups[:, None] == np.arange(1, group + 1)[None, :]).astype(float)


def _lr_tests(data: pd.DataFrame) -> list[dict[str, Any]]:
    tests = []
    nih = data["modified_nih"].to_numpy(dtype=float)
    known_nih = np.isfinite(nih)
    indicators = np.full((len(data), 0), np.nan)
    if known_nih.any():
        found = class_indicators(nih[known_nih], data["rfs_event"].to_numpy()[known_nih])
        indicators = np.full((len(data), found.shape[1]), np.nan)
        indicators[known_nih] = found
    bases = {
        "Modified NIH 2008 (ordinal)": (nih, known_nih),
        "Modified NIH 2008 (class indicators)": (indicators, known_nih),
        "Log tumour size": (
            np.log(data["size_cm"].clip(lower=0.1)).to_numpy(dtype=float),
            data["size_cm"].notna().to_numpy(),
        ),
    }
    for name, (base, known) in bases.items():
        try:
            if base.shape[1:] == (0,):
                raise ValidationError(
                    "the recurrences do not fall in two groups of classes (each with one), "
                    "so the class has no finite Cox model"
                )
            test = likelihood_ratio_test(
                base[known],
                data["risk_score"].to_numpy(dtype=float)[known],
                data["rfs_months"].to_numpy(dtype=float)[known],
                data["rfs_event"].to_numpy(dtype=float)[known],
            )
        except ValidationError as error:
            logger.info("LR test over %s not estimable: %s", name, error)
            tests.append(
                {"base": name, "n": int(known.sum()), "statistic": None, "df": 1, "p": None}
                | {"note": f"not estimable on these patients: {error}"}
            )
            continue
        tests.append(
            {"base": name, "n": int(known.sum()), "statistic": test.statistic, "df": test.df}
            | {"p": test.p, "note": ""}
        )
    return [{k: _clean(v) for k, v in r.items()} for r in tests]


def risk_tertiles(oof: pd.DataFrame) -> pd.Series:
    """Each patient's out-of-fold risk tertile ("Low", "Middle", "High"), by rank of the
    pooled risk score."""
    ranks = oof["risk_score"].rank(method="first").to_numpy()
    index = np.minimum((3 * (ranks - 1) / max(len(oof), 1)).astype(int), 2)
    return pd.Series(np.array(TERTILE_LABELS)[index], index=oof.index, name="risk_tertile")


#: the times of the at-risk table under the Kaplan–Meier figure by tertile (months)
AT_RISK_MONTHS = (0.0, 12.0, 24.0, 36.0, 60.0)


def tertile_comparison(oof: pd.DataFrame) -> SurvivalComparison:
    """Kaplan–Meier curves, log-rank test and hazard ratios of the out-of-fold risk tertiles
    (:func:`gistcad.analysis.comparison.compare_groups`, ordered Low → High)."""
    data = survival_data(oof)
    return compare_groups(
        data["rfs_months"],
        data["rfs_event"],
        risk_tertiles(data),
        times=AT_RISK_MONTHS,
        order=TERTILE_LABELS,
        ordered=True,
        reference=TERTILE_LABELS[0],
        min_group_size=1,
    )


def survival_data(oof: pd.DataFrame, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """The out-of-fold rows with a known follow-up, with the references joined by patient
    (when given and not already there)."""
    data = oof
    if references is not None and not set(REFERENCES) <= set(oof.columns):
        data = oof.merge(references, on="patient_id", how="left")
    for column in REFERENCES:
        if column not in data:
            data = data.assign(**{column: np.nan})
    data = data[data["rfs_months"].notna() & data["rfs_event"].notna()]
    return data.assign(rfs_event=data["rfs_event"].astype(float)).reset_index(drop=True)


def evaluate_survival(
    oof: pd.DataFrame,
    references: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Every figure of the module doc, as a JSON-ready dict.

    Returns
    -------
    dict
        ``metrics`` (rows per center and pooled), ``delta_c`` (Harrell's; rows per center and
        pooled, one per reference), ``delta_c_uno`` (the same in Uno's C up to τ),
        ``lr_tests``, ``calibration`` (``time``, ``slope``, ``slope_se``, ``groups``),
        ``settings`` (τ, AUC times, bootstrap replicates).
    """
    data = survival_data(oof, references)
    if data.empty or not data["rfs_event"].any():
        raise ValidationError(
            "no recurrence among the evaluated patients: the survival metrics are not defined"
        )
    centers = sorted(set(data["center"].astype(str)))
    metrics, deltas, uno = [], [], []
    for center in [*centers, POOLED]:
        part = data if center == POOLED else data[data["center"].astype(str) == center]
        metrics.append(_metrics_row(center, part, seed, n_boot))
        deltas.extend(_delta_rows(center, part, seed, n_boot))
        uno.extend(_delta_rows(center, part, seed, n_boot, ConcordanceKind.UNO))
    result: dict[str, Any] = {
        "metrics": metrics,
        "delta_c": deltas,
        "delta_c_uno": uno,
        "lr_tests": _lr_tests(data),
        "settings": {"tau_months": TAU_MONTHS, "auc_months": list(AUC_MONTHS)} | {"n_boot": n_boot},
    }
    if "p_no_recurrence_5y" in data:
        calibration = calibration_at(
            data["p_no_recurrence_5y"],
            data["risk_score"],
            data["rfs_months"],
            data["rfs_event"],
            CALIBRATION_MONTHS,
        )
        groups = calibration.groups.assign(group=list(TERTILE_LABELS[: len(calibration.groups)]))
        result["calibration"] = {
            "time": calibration.time,
            "slope": _clean(calibration.slope),
            "slope_se": _clean(calibration.slope_se),
            "groups": [{k: _clean(v) for k, v in r.items()} for r in groups.to_dict("records")],
        }
    return result


#: why the deep model's risk head is not calibrated (it gives no survival probability)
RISK_HEAD_CALIBRATION_NOTE = "not calibrated: a risk head gives a ranking, not probabilities"
#: what a risk head's evaluation says when its version stored no references
MISSING_REFERENCES_NOTE = (
    "this version stored no tumour size nor modified NIH 2008 class beside its out-of-fold "
    "rows (trained before they were stored): ΔC and the LR tests against them are not "
    "estimable; retrain it to compare"
)


def has_risk_head(oof: pd.DataFrame) -> bool:
    """Whether out-of-fold rows carry a risk score and the recurrence-free follow-up."""
    needed = {"risk_score", "rfs_months", "rfs_event"}
    return needed <= set(oof.columns) and bool(oof["risk_score"].notna().any())


def evaluate_risk_head(oof: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """The deep model's out-of-fold risk head judged as the imaging risk score is
    (:func:`evaluate_survival`: Harrell's and Uno's C, AUC at 2 and 5 years, ΔC against size
    alone and the modified NIH 2008 class with a bootstrap CI, the LR tests, the risk
    tertiles), without calibration: the head's linear predictor has no baseline hazard, so it
    gives a ranking, not survival probabilities.

    Parameters
    ----------
    oof : pandas.DataFrame
        ``patient_id``, ``center``, ``risk_score``, ``rfs_months``, ``rfs_event`` and the
        references ``size_cm`` and ``modified_nih`` as the trainer stores them (NaN when
        missing: then ΔC and the LR tests are not estimable).

    Returns
    -------
    dict
        :func:`evaluate_survival`'s dict without ``calibration``, with ``calibration_note``
        (:data:`RISK_HEAD_CALIBRATION_NOTE`) and, when the references are missing,
        ``references_note`` (:data:`MISSING_REFERENCES_NOTE`).

    Raises
    ------
    ValidationError
        When the rows carry no risk score, or no recurrence is among them.
    """
    if not has_risk_head(oof):
        raise ValidationError(
            "these out-of-fold rows carry no risk score with a recurrence-free follow-up "
            "(risk_score, rfs_months, rfs_event): only a model with a risk head has one"
        )
    rows = oof[oof["risk_score"].notna()].drop(columns=["p_no_recurrence_5y"], errors="ignore")
    result = evaluate_survival(rows, seed=seed, n_boot=n_boot)
    result["calibration_note"] = RISK_HEAD_CALIBRATION_NOTE
    if not set(REFERENCES) <= set(oof.columns) or oof[list(REFERENCES)].isna().all().all():
        result["references_note"] = MISSING_REFERENCES_NOTE
    return result


def metrics_table(survival: dict[str, Any]) -> pd.DataFrame:
    """The stored ``metrics`` rows as a table with readable column names."""
    names = {
        "center": "Center",
        "n": "Patients",
        "events": "Recurrences",
        "harrell_c": "Harrell's C",
        "harrell_c_ci_lower": "C 95 % CI from",
        "harrell_c_ci_upper": "C 95 % CI to",
        "uno_c": f"Uno's C (τ {TAU_MONTHS:.0f} months)",
        "auc_24m": "AUC at 2 years",
        "auc_60m": "AUC at 5 years",
        "modified_nih_c": "C of modified NIH 2008",
        "size_cm_c": "C of size alone",
        "modified_nih_uno_c": "Uno's C of modified NIH 2008",
        "size_cm_uno_c": "Uno's C of size alone",
    }
    return pd.DataFrame(survival.get("metrics", [])).rename(columns=names)


def lr_text(test: dict[str, Any]) -> str:
    """A stored likelihood-ratio test as printed: "LR 14.0 (1 df), p 0.00018" or its note."""
    if test.get("statistic") is None:
        return str(test.get("note") or "not estimable")
    return f"LR {test['statistic']:.1f} ({test['df']} df), p {test['p']:.2g}"


def delta_text(row: dict[str, Any]) -> str:
    """A stored ΔC row as printed: "+0.018 (−0.055 to +0.093), p 0.65"."""
    interval = f"({row['ci_lower']:+.3f} to {row['ci_upper']:+.3f})"
    return f"{row['delta_c']:+.3f} {interval}, p {row['p']:.2g}"


#: the stored ΔC lists and what they measure (a version evaluated before Uno's ΔC has the
#: first only)
DELTA_MEASURES = {"delta_c": "Harrell's C", "delta_c_uno": f"Uno's C (τ {TAU_MONTHS:.0f} months)"}

#: the heading of :func:`report_lines` for an imaging risk score (target rfs)
SCORE_TITLE = "Imaging risk score for recurrence-free survival (out of fold)"
#: the heading of :func:`report_lines` for the deep model's risk head
RISK_HEAD_TITLE = "Risk head for recurrence-free survival (out of fold)"


def report_lines(survival: dict[str, Any], title: str = SCORE_TITLE) -> list[str]:
    """The survival evaluation as ``gistcad evaluate`` prints it under ``title``: the metrics
    per center, ΔC over the schemes, the LR tests and the calibration at 5 years (or why
    there is none)."""
    table = metrics_table(survival)
    lines = [
        title,
        table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–"),
        "",
        "Added value over the clinical schemes (ΔC = the score's C minus the scheme's, "
        "paired bootstrap 95 % CI):",
    ]
    for key, measure in DELTA_MEASURES.items():
        for row in survival.get(key, []):
            lines.append(
                f"  {row['center']}, vs {row['reference']} (n={row['n']}), {measure}: "
                f"C {row['c_score']:.3f} vs {row['c_reference']:.3f}, ΔC {delta_text(row)}"
            )
    for test in survival.get("lr_tests", []):
        lines.append(f"Score added to a Cox model of {test['base']}: {lr_text(test)}")
    calibration = survival.get("calibration")
    if calibration:
        slope = calibration["slope"]
        lines.append(
            f"Calibration at {calibration['time']:.0f} months by risk tertile (slope "
            + ("not estimable" if slope is None else f"{slope:.2f}")
            + "): "
            + "; ".join(
                f"{g['group']} predicted {g['predicted']:.2f}, observed "
                + ("–" if g["observed"] is None else f"{g['observed']:.2f}")
                for g in calibration["groups"]
            )
        )
    for key in ("calibration_note", "references_note"):
        note = str(survival.get(key) or "")
        if note:
            lines.append(note[0].upper() + note[1:])
    return lines
