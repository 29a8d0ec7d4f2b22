"""``gistcad demo``: build the synthetic multi-center cohort."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gistcad.synth.build import BuildOptions, build_cohort, check_output_folder


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="the synthetic multi-center demo cohort")
    actions = parser.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="write a synthetic cohort (DICOM CT, masks, clinical tables, oracle) to a folder",
        description="Write what a consortium of centers would send: DICOM CT series, tumour "
        "masks (SEG, RTSTRUCT, NIfTI) and clinical tables, plus oracle.csv and ceiling.json "
        "(the best any model can do; never import them). Same options, same bytes.",
    )
    build.add_argument("--out", type=Path, required=True, help="an empty or new folder")
    build.add_argument("--patients", type=int, default=200)
    build.add_argument("--centers", type=int, default=6, help="1-6 (default 6)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--signal",
        type=float,
        default=1.0,
        help="genotype signal in the images, 0-1 (0 = no signal: the negative control)",
    )
    build.add_argument(
        "--matrix", type=int, default=256, help="in-plane pixels: 256 demo, 512 clinical"
    )
    build.add_argument("--workers", type=int, help="processes (default: all cores)")
    build.set_defaults(handler=_build)


def _build(args: argparse.Namespace) -> int:
    options = BuildOptions(
        out=args.out,
        patients=args.patients,
        centers=args.centers,
        seed=args.seed,
        signal=args.signal,
        matrix=args.matrix,
        workers=args.workers,
    )
    check_output_folder(options.out)
    with tqdm(total=options.patients, unit="patient", desc="CT and masks", file=sys.stderr) as bar:
        summary = build_cohort(options, progress=bar.update)
    centers = ", ".join(f"{name} {n}" for name, n in summary.centers.items())
    ceilings = ", ".join(f"{k} {v:.3f}" for k, v in summary.ceilings.items())
    print(f"{summary.patients} patients ({centers}) in {summary.out}: {summary.files} files")
    print(f"ceiling AUCs: {ceilings}")
    return 0
