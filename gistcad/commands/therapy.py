"""``gistcad therapy``: what a genotype implies for treatment (research use only)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from gistcad.analysis.therapy import DISCLAIMER, therapy_implication, therapy_table
from gistcad.domain import GenotypeDetail, RiskClass, RiskScheme


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "therapy",
        help="therapy implications of a genotype (research use only - not treatment advice)",
    )
    parser.add_argument(
        "--genotype",
        choices=[g.value for g in GenotypeDetail],
        help="one genotype; without it the whole table is printed",
    )
    parser.add_argument(
        "--risk-class",
        choices=[r.value for r in RiskClass],
        help="risk class, for the adjuvant imatinib call",
    )
    parser.add_argument(
        "--scheme",
        choices=[s.value for s in RiskScheme],
        default=RiskScheme.MODIFIED_NIH_2008.value,
        help="the scheme that gave --risk-class, named in the note (default joensuu2008, "
        "modified NIH)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_therapy)


def _therapy(args: argparse.Namespace) -> int:
    if args.genotype is None:
        table = therapy_table()
        if args.json:
            print(table.to_json(orient="records", indent=2))
        else:
            for row in table.itertuples(index=False):
                print(f"{row.genotype}: imatinib {row.imatinib_sensitivity}. {row.dose_note}")
            print(DISCLAIMER)
        return 0
    risk = RiskClass(args.risk_class) if args.risk_class else None
    implication = therapy_implication(GenotypeDetail(args.genotype), risk, args.scheme)
    if args.json:
        print(json.dumps(asdict(implication), indent=2, default=str))
        return 0
    lines = [
        f"Genotype: {implication.detail.value}",
        f"Imatinib sensitivity: {implication.imatinib_sensitivity.value}",
        f"Evidence: {implication.clinical_data}",
        f"Dose: {implication.dose_note}",
    ]
    if implication.alternative_agents:
        lines.append(f"Alternatives: {'; '.join(implication.alternative_agents)}")
    lines += [
        f"Adjuvant ({implication.adjuvant.value}): {implication.adjuvant_note}",
        f"Sources: {'; '.join(implication.sources)}",
        implication.disclaimer,
    ]
    print("\n".join(lines))
    return 0
