"""``gistcad cohort``: the Cohort explorer's patient table (and table one) on the command line.

The filters are the page's (centers, sites, genotype groups, risk classes under a scheme,
sex, age, size, follow-up, CT, predictions); the table is the page's table and its CSV
download, made by the same functions (:mod:`gistcad.analysis.cohort_explorer`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import record_id
from gistcad.config import load_settings
from gistcad.domain import (
    RISK_UNKNOWN,
    GenotypeGroup,
    Permission,
    RiskClass,
    RiskScheme,
    Sex,
    parse_risk_choice,
    parse_site,
)
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope

if TYPE_CHECKING:
    from gistcad.store.queries import CohortFilter

T = TypeVar("T")


def _listed(kind: Callable[[str], T], what: str, allowed: str) -> Callable[[str], frozenset[T]]:
    """An argument type: comma-separated values, each read by ``kind``."""

    def parse(text: str) -> frozenset[T]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"give at least one {what}, e.g. {allowed}")
        try:
            return frozenset(kind(v) for v in values)
        except (ValueError, ValidationError):
            raise argparse.ArgumentTypeError(
                f"{text!r} holds an unknown {what}; use {allowed}"
            ) from None

    parse.__name__ = what
    return parse


def _range(text: str) -> tuple[float, float]:
    """``30-70`` as (30.0, 70.0)."""
    try:
        low, high = (float(v) for v in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range: give the lowest and highest value, e.g. 30-70"
        ) from None
    if low > high:
        raise argparse.ArgumentTypeError(f"{text!r}: the lowest value comes first, e.g. 30-70")
    return (low, high)


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The Cohort explorer's filters as options (all optional; none given: every patient)."""
    group = parser.add_argument_group("cohort filters (as on the Cohort explorer)")
    group.add_argument(
        "--centers",
        type=_listed(str, "center", "--centers Alpha,Beta"),
        default=frozenset(),
        help="only these centers, comma-separated",
    )
    group.add_argument(
        "--sites",
        type=_listed(parse_site, "site", "stomach, duodenum, jejunum, colon, rectum, other"),
        default=frozenset(),
        help="only these primary sites, e.g. stomach,jejunum",
    )
    group.add_argument(
        "--genotype-groups",
        type=_listed(GenotypeGroup, "genotype group", ", ".join(GenotypeGroup)),
        default=frozenset(),
        help=f"only these true genotype groups: {', '.join(GenotypeGroup)}",
    )
    group.add_argument(
        "--risk-scheme",
        choices=[s.value for s in RiskScheme],
        default=RiskScheme.MODIFIED_NIH_2008.value,
        help="the scheme of --risk and of the risk_class column (default joensuu2008)",
    )
    group.add_argument(
        "--risk",
        type=_listed(parse_risk_choice, "risk class", ", ".join([*RiskClass, RISK_UNKNOWN])),
        default=frozenset(),
        help="only these risk classes under --risk-scheme, e.g. high or insufficient_data "
        f"(AFIP); '{RISK_UNKNOWN}': tumours that cannot be classified",
    )
    group.add_argument(
        "--sex",
        type=_listed(Sex, "sex", ", ".join(Sex)),
        default=frozenset(),
        help="only this sex: female or male",
    )
    group.add_argument("--age", type=_range, help="age at diagnosis, years, e.g. 30-70")
    group.add_argument("--size-cm", type=_range, help="largest tumour diameter, cm, e.g. 2-10")
    group.add_argument("--min-follow-up", type=float, help="at least this many months of follow-up")
    group.add_argument(
        "--has-scan", choices=["yes", "no"], help="only patients with (or without) a CT"
    )
    group.add_argument(
        "--has-prediction-from",
        type=record_id,
        metavar="MODEL_ID",
        help="only patients this model version has predicted",
    )


def cohort_filter(args: argparse.Namespace) -> CohortFilter:
    """The filter the options of :func:`add_filter_arguments` describe."""
    from gistcad.store.queries import CohortFilter  # pandas: not for --help

    return CohortFilter(
        centers=args.centers,
        sites=args.sites,
        genotype_groups=args.genotype_groups,
        sexes=args.sex,
        age_range=args.age,
        size_range_cm=args.size_cm,
        min_follow_up_months=args.min_follow_up,
        has_scan=None if args.has_scan is None else args.has_scan == "yes",
        has_prediction_from=args.has_prediction_from,
        risk_scheme=RiskScheme(args.risk_scheme),
        risk_classes=args.risk,
    )


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "cohort",
        help="the Cohort explorer's patient table or table one, filtered like the page",
        description="Print the patients the filters select (the Cohort explorer's table and "
        "its CSV download), or with --table-one their baseline characteristics.",
    )
    add_filter_arguments(parser)
    parser.add_argument(
        "--table-one",
        choices=["center", "genotype"],
        nargs="?",
        const="center",
        help="print table one instead, stratified by center (default) or genotype",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="CSV, as the page's download")
    output.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_cohort)


def _cohort(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    flt = cohort_filter(args)
    from gistcad.analysis.cohort_explorer import explorer_table, explorer_table_one
    from gistcad.store.exports import export_csv, record_export
    from gistcad.store.queries import cohort_table

    scope.require(Permission.VIEW_COHORT)
    with session_scope(engine) as session:
        patients = explorer_table(cohort_table(session, scope, flt), flt.risk_scheme)
        if args.table_one:
            table = explorer_table_one(patients, args.table_one, flt.risk_scheme)
            what, bulk = "table one", False
        else:
            table, what, bulk = patients, "cohort table", True
        # a file to keep (CSV, JSON) is an export, checked and audited as the page's download
        csv = export_csv(session, scope, what, table, bulk=bulk) if args.csv else None
        if args.json:
            record_export(session, scope, what, len(table), bulk=bulk)
    if csv is not None:
        sys.stdout.write(csv)
    elif args.json:
        print(table.to_json(orient="records", indent=2, force_ascii=False))
    elif table.empty:
        print("No patient matches these filters.")
    else:
        print(table.to_string(index=False))
    return 0
