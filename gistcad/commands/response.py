"""``gistcad response``: treatment response by RECIST 1.1 and Choi.

- ``gistcad response PSEUDONYM [--json]``: timepoints, lesion table, categories per timepoint;
- ``gistcad response cohort [--json | --csv]``: one row per patient;
- ``gistcad response assess (--patient P ... | --all)``: measure the masks, store the categories;
- ``gistcad response override PSEUDONYM --timepoint N --reason TEXT`` with ``--lesion N`` and
  the reader's values, or ``--criteria C --category K``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.domain import RESPONSE_CRITERIA_LABELS, ResponseCategory, ResponseCriteria
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope

if TYPE_CHECKING:
    import pandas as pd

    from gistcad.followup import PatientResponse

ACTIONS = ("cohort", "assess", "override", "show")
CRITERIA = {"recist": ResponseCriteria.RECIST_1_1, "choi": ResponseCriteria.CHOI}
#: Exit status when some patients were assessed and others could not be.
EXIT_PARTIAL = 1


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "response",
        help="treatment response by RECIST 1.1 and Choi: one patient, the cohort, assess, override",
        description="gistcad response PSEUDONYM | cohort | assess | override PSEUDONYM "
        "(a patient literally called 'cohort': gistcad response show cohort)",
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="PSEUDONYM | cohort | assess | override PSEUDONYM",
        help="a patient's pseudonym, or an action",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--csv", action="store_true", help="cohort: CSV output")
    parser.add_argument(
        "--patient", action="append", default=[], help="assess: this patient (repeatable)"
    )
    parser.add_argument("--all", action="store_true", help="assess: every patient in scope")
    parser.add_argument("--timepoint", type=int, help="override: the timepoint (0 = baseline)")
    parser.add_argument("--lesion", type=int, help="override: the lesion's number")
    parser.add_argument("--diameter", type=float, help="override: longest axial diameter, mm")
    parser.add_argument("--short-axis", type=float, help="override: short axis, mm")
    parser.add_argument("--volume", type=float, help="override: volume, ml")
    parser.add_argument("--hu", type=float, help="override: mean attenuation, HU")
    parser.add_argument("--solid-hu", type=float, help="override: solid part's mean, HU")
    parser.add_argument("--criteria", choices=sorted(CRITERIA), help="override: recist or choi")
    parser.add_argument(
        "--category", choices=[c.value for c in ResponseCategory], help="override: the category"
    )
    parser.add_argument("--reason", help="override: why (required)")
    parser.set_defaults(handler=_response)


def _response(args: argparse.Namespace) -> int:
    action, rest = args.words[0], args.words[1:]
    if action == "cohort" and not rest:
        return _cohort(args)
    if action == "assess" and not rest:
        return _assess(args)
    if action == "override" and len(rest) == 1:
        return _override(args, rest[0])
    if action == "show" and len(rest) == 1:
        return _show(args, rest[0])
    if action not in ACTIONS and not rest:
        return _show(args, action)
    raise ValidationError(
        f"'gistcad response {' '.join(args.words)}' is not understood: give one pseudonym, "
        "'cohort', 'assess', or 'override PSEUDONYM'"
    )


def _session(args: argparse.Namespace) -> Any:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    return settings, caller_scope(args, engine, settings), session_scope(engine)


def _show(args: argparse.Namespace, pseudonym: str) -> int:
    from gistcad.followup import patient_response

    _, scope, session = _session(args)
    with session as s:
        response = patient_response(s, scope, pseudonym)
    if args.json:
        print(json.dumps(response.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_patient(response))
    return 0


def _cohort(args: argparse.Namespace) -> int:
    from gistcad.followup import cohort_response

    _, scope, session = _session(args)
    with session as s:
        table = cohort_response(s, scope)
    if args.csv:
        from gistcad.store.exports import csv_text

        sys.stdout.write(csv_text(table))
    elif args.json:
        print(table.to_json(orient="records", indent=2, force_ascii=False))
    else:
        print(format_cohort(table))
    return 0


def _assess(args: argparse.Namespace) -> int:
    if bool(args.patient) == bool(args.all):
        raise ValidationError("assess needs --patient PSEUDONYM (repeatable) or --all")
    from gistcad.followup import assess_cohort

    settings, scope, session = _session(args)
    with session as s:
        run = assess_cohort(s, scope, settings.layout, args.patient or None)
    for r in run.runs:
        by_visit: dict[int, list[str]] = {}
        for a in r.assessments:
            label = RESPONSE_CRITERIA_LABELS[a.criteria]
            by_visit.setdefault(a.visit, []).append(f"{label} {a.category.value.upper()}")
        visits = "; ".join(f"timepoint {v}: {', '.join(c)}" for v, c in by_visit.items())
        print(
            f"{r.pseudonym}: {r.timepoints} timepoints, {r.measured} masks measured"
            + (f"; {visits}" if visits else "; no follow-up timepoint to assess")
        )
    for problem in run.problems:
        print(f"gistcad: not assessed: {problem}", file=sys.stderr)
    print(f"{len(run.runs)} patients assessed, {len(run.problems)} not assessed")
    return EXIT_PARTIAL if run.problems else 0


def _override(args: argparse.Namespace, pseudonym: str) -> int:
    if args.reason is None:
        raise ValidationError("override needs --reason: what the reader saw, and why")
    if args.timepoint is None:
        raise ValidationError("override needs --timepoint N (0 = baseline)")
    values = {
        "longest_diameter_mm": args.diameter,
        "short_axis_mm": args.short_axis,
        "volume_ml": args.volume,
        "mean_hu": args.hu,
        "solid_mean_hu": args.solid_hu,
    }
    measuring = args.lesion is not None or any(v is not None for v in values.values())
    categorising = args.criteria is not None or args.category is not None
    if measuring == categorising:
        raise ValidationError(
            "override either a measurement (--lesion N with --diameter, --short-axis, --volume, "
            "--hu or --solid-hu) or a category (--criteria and --category)"
        )
    from gistcad.followup import MeasurementOverride, override_category, override_measurement

    _, scope, session = _session(args)
    if measuring:
        if args.lesion is None:
            raise ValidationError("a measurement override needs --lesion N")
        override = MeasurementOverride(**values)
        with session as s:
            override_measurement(
                s, scope, pseudonym, args.lesion, args.timepoint, override, args.reason
            )
        print(
            f"{pseudonym}: the reader's measurement of lesion {args.lesion} at timepoint "
            f"{args.timepoint} is recorded beside the automatic one, and the categories "
            "recomputed"
        )
        return 0
    if args.criteria is None or args.category is None:
        raise ValidationError("a category override needs both --criteria and --category")
    criteria = CRITERIA[args.criteria]
    with session as s:
        override_category(
            s,
            scope,
            pseudonym,
            args.timepoint,
            criteria,
            ResponseCategory(args.category),
            args.reason,
        )
    print(
        f"{pseudonym}: the reader's {RESPONSE_CRITERIA_LABELS[criteria]} category "
        f"{args.category.upper()} at timepoint {args.timepoint} is recorded beside the "
        "automatic one"
    )
    return 0


def _pct(value: Any) -> str:
    if _missing(value):
        return "-"
    from gistcad.analysis.response import percent

    return percent(float(value))


def _num(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return "-"
    return f"{float(value):.{digits}f}"


def format_patient(response: PatientResponse) -> str:
    """One patient's follow-up as text: timepoints, lesions, categories with their reasons."""
    out = [f"{response.pseudonym} ({response.center})", "", "Timepoints:"]
    for tp in response.timepoints.itertuples(index=False):
        days = tp.days_from_treatment_start
        day = "" if _missing(days) else f", day {int(days)}"
        out.append(
            f"  {tp.timepoint}: {tp.study_date}{day}{' (baseline)' if tp.timepoint == 0 else ''}"
        )
    lesions = response.lesions
    out += ["", "Lesions (mm, HU; change from baseline; * a reader's value):"]
    if lesions.empty:
        out.append("  none measured")
    else:
        shown = lesions.assign(
            ld=[
                _num(v) + ("" if _missing(r) else "*")
                for v, r in zip(
                    lesions["longest_diameter_mm"],
                    lesions["reader_longest_diameter_mm"],
                    strict=True,
                )
            ],
            sa=[_num(v) for v in lesions["short_axis_mm"]],
            hu=[_num(v, 0) for v in lesions["mean_hu"]],
            solid=[_num(v, 0) for v in lesions["solid_mean_hu"]],
            d_ld=[_pct(v) for v in lesions["diameter_change"]],
            d_hu=[_pct(v) for v in lesions["hu_change"]],
        )[["lesion", "organ", "role", "timepoint", "ld", "sa", "hu", "solid", "d_ld", "d_hu"]]
        shown.columns = [
            "lesion",
            "organ",
            "role",
            "timepoint",
            "diameter",
            "short axis",
            "HU",
            "solid HU",
            "diameter %",
            "HU %",
        ]
        out += ["  " + line for line in shown.to_string(index=False).splitlines()]
    out += ["", "Response:"]
    for row in response.assessments.itertuples(index=False):
        label = RESPONSE_CRITERIA_LABELS[ResponseCriteria(row.criteria)]
        category = "-" if _missing(row.category) else str(row.category).upper()
        line = f"  timepoint {row.timepoint}, {label}: {category}"
        if not _missing(row.reason):
            line += f" ({row.reason})"
        if not _missing(row.reader_category):
            auto = "-" if _missing(row.automatic_category) else str(row.automatic_category).upper()
            line += f"; set by {row.reader}; automatic: {auto}"
            if row.automatic_reason:
                line += f" ({row.automatic_reason})"
        out.append(line)
    out += [f"note: {n}" for n in response.notes]
    return "\n".join(out)


def _missing(value: Any) -> bool:
    """None or NaN (pandas turns a missing number into NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_cohort(table: pd.DataFrame) -> str:
    """The cohort's response table as text (percent changes, categories in capitals)."""
    if table.empty:
        return "no patient in your scope has follow-up imaging"
    shown = table.assign(
        best_size_change=[_pct(v) for v in table["best_size_change"]],
        best_density_change=[_pct(v) for v in table["best_density_change"]],
        best_recist=[("-" if _missing(v) else str(v).upper()) for v in table["best_recist"]],
        best_choi=[("-" if _missing(v) else str(v).upper()) for v in table["best_choi"]],
    )
    return shown.to_string(index=False, na_rep="-")
