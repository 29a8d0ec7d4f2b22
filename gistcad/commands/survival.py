"""``gistcad survival``: Kaplan-Meier, log-rank and Cox by genotype, prediction, risk or center."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pandas as pd

from gistcad.analysis.cohort_survival import ADJUSTABLE, SurvivalRequest, cohort_survival
from gistcad.analysis.comparison import SurvivalComparison
from gistcad.analysis.grouping import Grouping, StatusSplit
from gistcad.analysis.kaplan_meier import CI_METHOD
from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.domain import Endpoint, RiskScheme
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope
from gistcad.store.model_queries import find_model_version, model_predictions
from gistcad.store.queries import CohortFilter, cohort_table


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "survival",
        help="Kaplan-Meier, log-rank and hazard ratios by genotype, prediction, risk or center",
    )
    parser.add_argument("--endpoint", choices=[e.value for e in Endpoint], default="rfs")
    parser.add_argument("--by", choices=[g.value for g in Grouping], required=True)
    parser.add_argument("--model", help="model version id or name (with --by predicted)")
    parser.add_argument(
        "--split",
        choices=[s.value for s in StatusSplit],
        default=StatusSplit.KIT11.value,
        help="with --by predicted: kit11 (exon 11 vs rest, default), kit_mutant, four_class",
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="probability threshold (default 0.5)"
    )
    parser.add_argument(
        "--scheme",
        choices=[s.value for s in RiskScheme],
        default=RiskScheme.MODIFIED_NIH_2008.value,
        help="risk scheme for --by risk and --adjust risk (default joensuu2008)",
    )
    parser.add_argument(
        "--times", default="24,60,120", help="months for S(t) and the at-risk table"
    )
    parser.add_argument("--center", action="append", default=[], help="only this center")
    parser.add_argument("--landmark", type=float, help="start the clock at this month")
    parser.add_argument("--min-group-size", type=int, default=10)
    parser.add_argument("--reference", help="reference group of the hazard ratios")
    parser.add_argument(
        "--adjust", default="", help=f"Cox covariates, comma-separated from {', '.join(ADJUSTABLE)}"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_survival)


def parse_times(text: str) -> tuple[float, ...]:
    try:
        times = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ValidationError(
            f"--times must be months separated by commas, e.g. 24,60,120; got {text!r}"
        ) from None
    if not times or any(t < 0 for t in times):
        raise ValidationError(f"--times needs at least one month >= 0; got {text!r}")
    return times


def request_from(args: argparse.Namespace) -> SurvivalRequest:
    return SurvivalRequest(
        endpoint=Endpoint(args.endpoint),
        by=Grouping(args.by),
        split=StatusSplit(args.split),
        threshold=args.threshold,
        scheme=RiskScheme(args.scheme),
        times=parse_times(args.times),
        min_group_size=args.min_group_size,
        reference=args.reference,
        adjust=tuple(n.strip() for n in args.adjust.split(",") if n.strip()),
        landmark_months=args.landmark,
    )


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame | None, str | None]:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    flt = CohortFilter(centers=frozenset(args.center))
    with session_scope(engine) as session:
        cohort = cohort_table(session, scope, flt)
        if args.by != Grouping.PREDICTED:
            return cohort, None, None
        if not args.model:
            raise ValidationError("--by predicted needs --model (a model version id or name)")
        model_id, model_name = find_model_version(session, args.model)
        return cohort, model_predictions(session, scope, model_id), model_name


def _survival(args: argparse.Namespace) -> int:
    request = request_from(args)
    cohort, predictions, model_name = _load(args)
    result = cohort_survival(cohort, request, predictions)
    header = {
        "endpoint": request.endpoint.value,
        "by": request.by.value,
        "model": model_name,
        "split": request.split.value if request.by is Grouping.PREDICTED else None,
        "threshold": request.threshold if request.by is Grouping.PREDICTED else None,
        "scheme": request.scheme.value if request.by is Grouping.RISK else None,
        "landmark_months": request.landmark_months,
        "selection_notes": list(result.notes),
    }
    if args.json:
        print(json.dumps({**header, **result.comparison.to_dict()}, indent=2))
    else:
        print(format_report(header, result.comparison))
    return 0


def format_report(header: dict[str, Any], comparison: SurvivalComparison) -> str:
    """The comparison as text, in the order of a clinical paper's survival section."""
    endpoint = "Recurrence-free survival" if header["endpoint"] == "rfs" else "Overall survival"
    by = header["by"] + (f" ({header['model']}, {header['split']})" if header["model"] else "")
    out = [f"{endpoint} by {by}; times in months; 95 % CI: {CI_METHOD}", ""]
    out += [f"note: {n}" for n in [*header["selection_notes"], *comparison.notes]]
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
    risk = comparison.at_risk.assign(
        cell=lambda d: (
            d["at_risk"].astype(str)
            + " ("
            + d["events"].astype(str)
            + ", "
            + d["censored"].astype(str)
            + ")"
        )
    ).pivot(index="group", columns="time", values="cell")
    risk.columns = [f"{t:g}" for t in risk.columns]
    out += ["", "Number at risk (cumulative events, censored):", risk.to_string()]
    if comparison.logrank is not None:
        lr = comparison.logrank
        out += ["", f"{lr.test}: chi2 = {lr.statistic:.2f}, df = {lr.df}, p = {_p(lr.p_value)}"]
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
    if pd.isna(s):
        return "-"
    return f"{s:.0%} ({lo:.0%}-{hi:.0%})"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
