"""``gistcad risk``: the clinical risk of one tumour under every scheme."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gistcad.analysis.afip import AfipColumn, AfipColumnLabelling
from gistcad.analysis.recurrence import RecurrenceEstimate, recurrence_estimate
from gistcad.analysis.risk import ModifiedNihReading, RiskAssessment, RiskOptions, classify_all
from gistcad.domain import MitosisUnit, RiskScheme, parse_site

UNIT_CHOICES = {"50hpf": MitosisUnit.PER_50_HPF, "5mm2": MitosisUnit.PER_5_MM2}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "risk",
        help="risk class of a resected primary GIST under NIH, AFIP and modified NIH",
        description="Risk of progression under NIH 2002, AFIP 2006 and modified NIH 2008, and "
        "an AFIP-fitted recurrence estimate (long-term progression, 2/5/10-year RFS after "
        "surgery alone; not the MSKCC nomogram).",
    )
    parser.add_argument("--site", required=True, help="primary site, e.g. stomach, jejunum")
    parser.add_argument(
        "--size-cm", type=float, required=True, help="largest diameter, cm (at most 40)"
    )
    parser.add_argument("--mitoses", type=float, required=True, help="mitotic count")
    parser.add_argument(
        "--per",
        choices=sorted(UNIT_CHOICES),
        default="50hpf",
        help="unit of the mitotic count (default 50hpf; 5mm2 uses the same thresholds, "
        "as WHO 2019 does, and says so)",
    )
    parser.add_argument("--rupture", action="store_true", help="the tumour ruptured")
    parser.add_argument(
        "--afip-gastric-3b",
        type=float,
        choices=[10.0, 12.0],
        default=10.0,
        help="AFIP gastric >10 cm, <=5 mitoses: 10 %% (NCCN, default) or 12 %% (PDQ 2025)",
    )
    parser.add_argument(
        "--afip-labelling",
        choices=[c.value for c in AfipColumnLabelling],
        default=AfipColumnLabelling.MIETTINEN_LASOTA_2006.value,
        help="which small-bowel AFIP column is duodenum (default: the original paper's)",
    )
    parser.add_argument(
        "--afip-uncovered-site-column",
        choices=[c.value for c in AfipColumn],
        default=AfipColumn.JEJUNUM_ILEUM.value,
        help="AFIP column for colon, oesophagus and other sites (default jejunum_ileum)",
    )
    parser.add_argument(
        "--modified-nih-reading",
        choices=[r.value for r in ModifiedNihReading],
        default=ModifiedNihReading.LITERAL.value,
        help="<=2 cm non-gastric with 6-10 mitoses: literal (the printed table: "
        "intermediate, default) or secondary (high)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_risk)


def _risk(args: argparse.Namespace) -> int:
    site = parse_site(args.site)
    unit = UNIT_CHOICES[args.per]
    options = RiskOptions(
        afip_column_labelling=args.afip_labelling,
        afip_gastric_3b_percent=args.afip_gastric_3b,
        afip_uncovered_site_column=args.afip_uncovered_site_column,
        modified_nih_reading=args.modified_nih_reading,
    )
    recurrence = recurrence_estimate(  # first: it refuses a size that looks like millimetres
        site=site, size_cm=args.size_cm, mitoses=args.mitoses, unit=unit, rupture=args.rupture
    )
    verdicts = classify_all(
        site=site,
        size_cm=args.size_cm,
        mitoses=args.mitoses,
        unit=unit,
        rupture=args.rupture,
        options=options,
    )
    if args.json:
        print(json.dumps(_as_dict(args, site.value, unit.value, verdicts, recurrence), indent=2))
    else:
        print(_as_text(args, site.value, unit.value, verdicts, recurrence))
    return 0


def _as_dict(
    args: argparse.Namespace,
    site: str,
    unit: str,
    verdicts: dict[RiskScheme, RiskAssessment],
    recurrence: RecurrenceEstimate,
) -> dict[str, Any]:
    return {
        "input": {
            "site": site,
            "size_cm": args.size_cm,
            "mitoses": args.mitoses,
            "mitotic_unit": unit,
            "rupture": args.rupture,
        },
        "schemes": {
            scheme.value: {
                "name": scheme.label,
                "risk_class": v.risk_class.value,
                "progression_risk_percent": v.progression_risk_percent,
                "label": v.label,
                "notes": list(v.notes),
            }
            for scheme, v in verdicts.items()
        },
        "recurrence": {
            "long_term_progression": recurrence.long_term_progression,
            "rfs_2y": recurrence.rfs_2y,
            "rfs_5y": recurrence.rfs_5y,
            "rfs_10y": recurrence.rfs_10y,
            "afip_column": recurrence.afip_column.value,
            "label": recurrence.label,
            "notes": list(recurrence.notes),
            "limits": list(recurrence.limits),
        },
    }


def _as_text(
    args: argparse.Namespace,
    site: str,
    unit: str,
    verdicts: dict[RiskScheme, RiskAssessment],
    recurrence: RecurrenceEstimate,
) -> str:
    rupture = ", ruptured" if args.rupture else ""
    lines = [
        f"{site}, {args.size_cm:g} cm, {args.mitoses:g} mitoses per {unit[4:]}{rupture}",
        "",
    ]
    width = max(len(s.label) for s in RiskScheme)
    for scheme, verdict in verdicts.items():
        lines.append(f"  {scheme.label:<{width}}  {verdict.label}")
        lines += [f"  {'':<{width}}    note: {note}" for note in verdict.notes]
    lines += ["", f"  {recurrence.label}", f"    {recurrence.summary}"]
    lines += [f"    note: {note}" for note in recurrence.notes]
    lines += [f"    limit: {limit}" for limit in recurrence.limits]
    return "\n".join(lines)
