"""``gistcad survival``: Kaplan-Meier, log-rank and Cox by any clinical variable or prediction."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from gistcad.analysis.time_to_event import TimeUnit
from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import count, probability_threshold
from gistcad.commands.cohort import add_filter_arguments, cohort_filter
from gistcad.config import load_settings
from gistcad.domain import Endpoint, Grouping, RiskScheme, StatusSplit
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope

if TYPE_CHECKING:
    from gistcad.analysis.cohort_survival import SurvivalRequest
    from gistcad.analysis.comparison import SurvivalComparison


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "survival",
        help="Kaplan-Meier, log-rank and hazard ratios by any clinical variable or prediction",
    )
    parser.add_argument("--endpoint", choices=[e.value for e in Endpoint], default="rfs")
    parser.add_argument(
        "--by",
        required=True,
        help=f"a variable: {Grouping.names()}; a number cut at points or quantiles, e.g. "
        "size:5,10 or age:tertiles (also median, quartiles, quintiles, q<k>)",
    )
    parser.add_argument("--model", help="model version id or name (with --by predicted)")
    parser.add_argument(
        "--split",
        choices=[s.value for s in StatusSplit],
        default=StatusSplit.KIT11.value,
        help="with --by predicted: kit11 (exon 11 vs rest, default), kit_mutant, four_class",
    )
    parser.add_argument(
        "--threshold",
        type=probability_threshold,
        default=0.5,
        help="probability threshold (default 0.5)",
    )
    parser.add_argument(
        "--in-sample",
        action="store_true",
        help="with --by predicted: group every patient by the final model's prediction, "
        "in-sample for its training patients (overstates the separation; labelled so). "
        "Default: out-of-fold predictions for the patients the model was trained on",
    )
    parser.add_argument(
        "--scheme",
        choices=[s.value for s in RiskScheme],
        default=RiskScheme.MODIFIED_NIH_2008.value,
        help="risk scheme for --by risk and --adjust risk (default joensuu2008)",
    )
    parser.add_argument(
        "--time-unit",
        choices=[u.value for u in TimeUnit],
        default=TimeUnit.MONTHS.value,
        help="unit of --times and of every time shown (default months)",
    )
    parser.add_argument(
        "--times",
        default=None,
        help="times for S(t) and the at-risk table (default 24,60,120 "
        "months, or the same in the chosen unit)",
    )
    parser.add_argument(
        "--center", action="append", default=[], help="only this center (repeatable)"
    )
    parser.add_argument("--landmark", type=float, help="start the clock at this month")
    parser.add_argument("--min-group-size", type=count(1, 1_000_000, "patients"), default=10)
    parser.add_argument(
        "--reference",
        help="reference group of the hazard ratios (default: the lowest of "
        "ordered groups, else the largest)",
    )
    parser.add_argument(
        "--adjust",
        action="append",
        default=[],
        help="Cox covariates, comma-separated or repeated: any variable of --by (numbers per "
        "unit, or cut: size:5,10)",
    )
    parser.add_argument(
        "--test-unknown",
        action="store_true",
        help="include the Unknown / No prediction / Not classifiable groups in the tests",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_filter_arguments(parser)
    parser.set_defaults(handler=_survival)


def request_from(args: argparse.Namespace) -> SurvivalRequest:
    from gistcad.analysis.cohort_survival import build_request  # pandas, lifelines: here only

    return build_request(
        by=args.by,
        endpoint=args.endpoint,
        times=args.times,
        time_unit=TimeUnit(args.time_unit),
        adjust=tuple(args.adjust),
        split=StatusSplit(args.split),
        threshold=args.threshold,
        scheme=RiskScheme(args.scheme),
        min_group_size=args.min_group_size,
        reference=args.reference,
        landmark_months=args.landmark,
        in_sample=args.in_sample,
        test_unknown=args.test_unknown,
    )


def _survival(args: argparse.Namespace) -> int:
    request = request_from(args)
    from gistcad.survival import needs_predictions, survival_for

    if needs_predictions(request) and not args.model:
        raise ValidationError("--by predicted needs --model (a model version id or name)")
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    selection = replace(cohort_filter(args), centers=args.centers | frozenset(args.center))
    with session_scope(engine) as session:
        found = survival_for(session, scope, selection, request, model=args.model)
    result = found.result
    predicted = request.by is Grouping.PREDICTED
    header = {
        "endpoint": request.endpoint.value,
        "by": str(request.variable),
        "model": found.model_name,
        "split": request.split.value if predicted else None,
        "threshold": request.threshold if predicted else None,
        "scheme": request.scheme.value if Grouping.RISK in _variables(request) else None,
        "time_unit": request.time_unit.value,
        "landmark_months": request.landmark_months,
        "validation": result.validation,
        "in_sample": result.in_sample,
        "prediction_sources": (
            None
            if result.prediction_sources is None
            else result.prediction_sources.to_dict(orient="records")
        ),
        "selection_notes": list(result.notes),
    }
    if args.json:
        print(json.dumps({**header, **result.comparison.to_dict()}, indent=2))
    else:
        print(format_report(header, result.comparison))
    return 0


def _variables(request: SurvivalRequest) -> set[Grouping]:
    return {request.by, *(v.grouping for v in request.covariates)}


def format_report(header: dict[str, Any], comparison: SurvivalComparison) -> str:
    """The comparison as text, in the order of a clinical paper's survival section."""
    endpoint = Endpoint(header["endpoint"]).label
    by = header["by"] + (f" ({header['model']}, {header['split']})" if header["split"] else "")
    if header["in_sample"]:
        by += " [IN-SAMPLE predictions: overstates the separation]"
    from gistcad.analysis.kaplan_meier import CI_METHOD

    out = [f"{endpoint} by {by}; times in {header['time_unit']}; 95 % CI: {CI_METHOD}", ""]
    out += [f"note: {n}" for n in [*header["selection_notes"], *comparison.notes]]
    if header["prediction_sources"]:
        import pandas as pd

        sources = pd.DataFrame(header["prediction_sources"])
        out += [
            "",
            "Source of the predicted status (patients per group):",
            sources.pivot(index="group", columns="source", values="n")
            .fillna(0)
            .astype(int)
            .to_string(),
        ]
    summary = comparison.summary.copy()
    cols = ["group", "n", "events", "median_text"]
    for t in comparison.times:
        key = f"survival_at_{t:g}"
        if key in summary and t > 0:
            summary[f"S({t:g})"] = [
                _pct(s, lo, hi)
                for s, lo, hi in zip(
                    summary[key],
                    summary[f"{key}_ci_lower"],
                    summary[f"{key}_ci_upper"],
                    strict=True,
                )
            ]
            cols.append(f"S({t:g})")
    out += [
        "",
        summary[cols].rename(columns={"median_text": "median (95% CI)"}).to_string(index=False),
    ]
    risk = (
        comparison.at_risk.assign(
            cell=lambda d: (
                d["at_risk"].astype(str)
                + " ("
                + d["events"].astype(str)
                + ", "
                + d["censored"].astype(str)
                + ")"
            )
        )
        .pivot(index="group", columns="time", values="cell")
        .reindex(list(comparison.groups))
    )
    risk.columns = [f"{t:g}" for t in risk.columns]
    out += ["", "Number at risk (cumulative events, censored):", risk.to_string()]
    if comparison.logrank is not None:
        lr = comparison.logrank
        out += ["", f"{lr.test}: chi2 = {lr.statistic:.2f}, df = {lr.df}, {_p(lr.p_value)}"]
    if comparison.trend is not None:
        tr = comparison.trend
        order = " < ".join(tr.groups)
        out += [f"{tr.test} ({order}): chi2 = {tr.statistic:.2f}, df = {tr.df}, {_p(tr.p_value)}"]
    if not comparison.pairwise.empty:
        out += [
            "",
            "Pairwise log-rank (Holm-adjusted):",
            comparison.pairwise.to_string(index=False),
        ]
    if comparison.cox is not None:
        table = comparison.cox.table[["term", "hr", "ci_lower", "ci_upper", "p"]]
        out += [
            "",
            "Cox proportional hazards (hazard ratio, 95 % CI):",
            table.to_string(index=False, float_format=lambda v: f"{v:.3g}"),
        ]
        ph = comparison.cox.ph_test[["term", "verdict"]]
        out += ["", "Proportional-hazards check (Schoenfeld residuals):", ph.to_string(index=False)]
    return "\n".join(out)


def _pct(s: float, lo: float, hi: float) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    return f"{s:.0%} ({lo:.0%}-{hi:.0%})"


def _p(p: float) -> str:
    """``"p < 0.001"`` or ``"p = 0.012"``."""
    if not np.isfinite(p):
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
