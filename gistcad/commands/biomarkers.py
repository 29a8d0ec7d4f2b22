"""``gistcad biomarkers discover``: imaging features that predict survival beyond the clinical
factors, FDR controlled, confirmed on held-out centers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import count
from gistcad.commands.models import _bar
from gistcad.config import load_settings
from gistcad.domain import Endpoint, Permission
from gistcad.store import migrations, session_scope

if TYPE_CHECKING:
    from gistcad.biomarkers import BiomarkerDiscovery

#: the columns the text output shows, in order
SHOWN = [
    "feature",
    "hr",
    "ci_lower",
    "ci_upper",
    "p",
    "q",
    "selection_frequency",
    "size_r2",
    "splits_discovered",
    "splits_replicated",
    "confirmed",
]


def _fdr(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"the FDR must lie between 0 and 1, e.g. 0.1; got {text}")
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("biomarkers", help="discover imaging biomarkers of survival")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    discover = actions.add_parser(
        "discover",
        help="per radiomics feature: Cox HR per SD adjusted for clinical factors, BH q, "
        "bootstrap selection, per-center HRs, leave-one-center-out confirmation",
    )
    discover.add_argument("--endpoint", choices=[e.value for e in Endpoint], default="rfs")
    discover.add_argument(
        "--adjust",
        default="risk,afip,genotype",
        help="clinical factors, comma-separated: risk (log size, log(1 + mitoses), non-gastric "
        "site, rupture), afip (log cumulative hazard of the AFIP 2006 cell), genotype (KIT "
        "exon 9, PDGFRA, wild-type vs KIT exon 11), or none (default risk,afip,genotype)",
    )
    discover.add_argument(
        "--harmonise",
        choices=["none", "combat"],
        default="none",
        help="harmonise the features across centers (ComBat, fitted without the outcome)",
    )
    discover.add_argument("--fdr", type=_fdr, default=0.1, help="false discovery rate (0.1)")
    discover.add_argument(
        "--bootstrap",
        type=count(0, 10_000, "resamples"),
        default=200,
        help="resamples for the selection frequency (200; 0: none)",
    )
    discover.add_argument(
        "--winsorise",
        type=float,
        metavar="SHARE",
        help="clip each feature at this share of each tail before the screen, so that a few "
        "extreme tumours cannot decide a test (default 0.01: the 1st and 99th percentiles; "
        "0: the raw features)",
    )
    discover.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    discover.add_argument(
        "--deep-model",
        metavar="NAME",
        help="a deep model version (name or id) whose risk score joins the candidates as "
        "deep_risk_score: out-of-fold for the patients it was trained on, its final model's "
        "for the others; patients without such a score are left out",
    )
    output = discover.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="every table as JSON")
    output.add_argument("--csv", action="store_true", help="the feature table as CSV")
    discover.set_defaults(handler=_discover)


def _discover(args: argparse.Namespace) -> int:
    from gistcad.biomarkers import DiscoveryRequest, discover_biomarkers

    request = DiscoveryRequest(
        endpoint=Endpoint(args.endpoint),
        adjust=DiscoveryRequest.parse_adjust(args.adjust),
        harmonise=args.harmonise,
        fdr=args.fdr,
        bootstrap=args.bootstrap,
        seed=args.seed,
        deep_model=args.deep_model,
        **({} if args.winsorise is None else {"winsorise": args.winsorise}),
    )
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    scope.require(Permission.VIEW_PERFORMANCE)
    quiet = args.json or args.csv
    with session_scope(engine) as session, _bar("features", quiet=quiet, unit="patient") as bar:
        found = discover_biomarkers(session, scope, settings.data_dir, request, bar)
    if args.csv:
        found.discovery.table.to_csv(sys.stdout, index=False, float_format="%.6g")
    elif args.json:
        print(json.dumps(as_json(found), indent=2))
    else:
        print(format_report(found))
    return 0


def _header(found: BiomarkerDiscovery) -> dict[str, Any]:
    request = found.request
    return {
        "endpoint": request.endpoint.value,
        "adjust": [a.value for a in request.adjust],
        "covariates": list(found.covariates),
        "harmonise": request.harmonise.value,
        "fdr": request.fdr,
        "bootstrap": request.bootstrap,
        "seed": request.seed,
        "deep_model": request.deep_model,
        "winsorise": request.winsorise,
        "patients": found.discovery.n,
        "events": found.discovery.n_events,
        "centers": sorted(set(found.patients["center"])),
        "candidates": found.candidates,
        "tested": int(found.discovery.analysed.shape[1]),
        "discovered": found.discovery.discovered,
        "confirmed": [
            str(f) for f in found.discovery.table.loc[found.discovery.table["confirmed"], "feature"]
        ],
        "notes": list(found.notes),
    }


def as_json(found: BiomarkerDiscovery) -> dict[str, Any]:
    """The header and every table, JSON-ready (NaN as null)."""

    def records(table: Any) -> Any:
        return json.loads(table.to_json(orient="records"))

    return {
        **_header(found),
        "features": records(found.discovery.table),
        "per_center": records(found.discovery.per_center),
        "confirmation": records(found.discovery.confirmation),
    }


def format_report(found: BiomarkerDiscovery, top: int = 15) -> str:
    """The discovery as text: what was tested, the top features, discovery vs confirmation."""
    h = _header(found)
    d = found.discovery
    out = [
        f"{Endpoint(h['endpoint']).label}: {h['patients']} patients, {h['events']} events, "
        f"centers {', '.join(h['centers'])}",
        f"adjusted for {', '.join(h['covariates']) or 'nothing'}; harmonisation "
        f"{h['harmonise']}; {h['tested']} of {h['candidates']} features tested; "
        f"FDR {h['fdr']:g}; bootstrap {h['bootstrap']}; "
        + (f"winsorised at {h['winsorise']:.1%} per tail" if h["winsorise"] else "not winsorised")
        + (
            f"; candidates include deep model {h['deep_model']}'s risk score"
            if h["deep_model"]
            else ""
        ),
    ]
    out += [f"note: {n}" for n in h["notes"]]
    table = d.table[SHOWN].head(top)
    out += [
        "",
        f"Discovery (all centers; HR per SD, 95 % CI; first {len(table)} by q):",
        table.to_string(index=False, float_format=lambda v: f"{v:.3g}"),
        "",
        f"Discovered (q < {h['fdr']:g}): {', '.join(h['discovered']) or 'none'}",
        f"Size warning (R² on log size ≥ {d.settings.size_r2_threshold:g}): "
        + (", ".join(d.table.loc[d.table["size_flag"], "feature"].astype(str)) or "none"),
        "",
        "Confirmation (discovered without the center, tested in it):",
        d.confirmation.to_string(index=False, float_format=lambda v: f"{v:.3g}")
        if not d.confirmation.empty
        else "no feature was discovered on the training centers of any split",
        "",
        f"Confirmed (every discovering split agrees, pooled held-out p < "
        f"{d.settings.confirm_alpha:g}): {', '.join(h['confirmed']) or 'none'}",
    ]
    return "\n".join(out)
