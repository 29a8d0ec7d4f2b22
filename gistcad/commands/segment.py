"""``gistcad segment PSEUDONYM --seed X,Y,Z [--mm|--voxel] [--tolerance HU] [--save]``.

Grows the tumour's outline from one click on the patient's CT and prints its volume and
longest axial diameter; ``--save`` stores it as a semi-automatic segmentation (audited).
"""

from __future__ import annotations

import argparse
from typing import Any

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "segment",
        help="outline a patient's tumour from one click (semi-automatic), optionally save it",
        description="gistcad segment PSEUDONYM --seed X,Y,Z [--mm | --voxel] [--tolerance HU] "
        "[--save]",
    )
    parser.add_argument("pseudonym", help="the patient's pseudonym")
    parser.add_argument(
        "--seed", required=True, help="the click: i,j,k voxel indices (default) or x,y,z mm"
    )
    unit = parser.add_mutually_exclusive_group()
    unit.add_argument("--mm", action="store_true", help="the seed is a RAS+ point in mm")
    unit.add_argument("--voxel", action="store_true", help="the seed is voxel indices (default)")
    parser.add_argument("--tolerance", type=float, help="intensity range half-width, HU")
    parser.add_argument("--save", action="store_true", help="store the outline (audited)")
    parser.set_defaults(handler=_segment)


def parse_seed(text: str) -> tuple[float, float, float]:
    """``"12,40,7"`` → (12.0, 40.0, 7.0)."""
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ValidationError(f"--seed must be three numbers separated by commas, got {text!r}")
    return values[0], values[1], values[2]


def _segment(args: argparse.Namespace) -> int:
    from gistcad.segmentation.outline import outline_patient

    seed = parse_seed(args.seed)
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    with session_scope(engine) as session:
        result = outline_patient(
            session,
            scope,
            settings.layout,
            args.pseudonym,
            seed,
            in_mm=args.mm,
            tolerance_hu=args.tolerance,
            save=args.save,
        )
    print(
        f"{args.pseudonym}: outline of {result.volume_ml:.1f} ml, longest axial diameter "
        f"{result.longest_axial_diameter_mm:.1f} mm, mean {result.mean_hu:.0f} HU"
    )
    saved = result.saved
    print(
        f"saved as segmentation {saved.segmentation_id} ({saved.path})"
        if saved
        else "not saved (add --save to store it)"
    )
    return 0
