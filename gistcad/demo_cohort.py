"""The synthetic demo cohort of a data folder: built once, imported like a center's data.

``gistcad demo load`` (what ``make run`` does on a first start) and ``gistcad import demo``
call these; the cohort goes through the ordinary importers, so if the demo works, the import
path works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from gistcad.layout import DataLayout
from gistcad.store import AccessScope

if TYPE_CHECKING:
    from gistcad.ingest.report import ImportReport
    from gistcad.synth.build import BuildSummary

#: the demo cohort's centers, signal and in-plane matrix (``gistcad demo build``'s defaults)
DEMO_CENTERS = 6
DEMO_SIGNAL = 1.0
DEMO_MATRIX = 256
MANIFEST = "manifest.json"


def demo_cohort_built(layout: DataLayout) -> bool:
    """Whether the data folder holds a finished demo cohort (its manifest is written last)."""
    return (layout.demo_cohort / MANIFEST).exists()


def build_demo_cohort(
    layout: DataLayout,
    patients: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> BuildSummary:
    """Write the demo cohort (six centers, full signal, 256-pixel CT) into the data folder;
    ``progress(k)`` per patient written."""
    from gistcad.synth.build import BuildOptions, build_cohort  # the generator: only here

    options = BuildOptions(
        out=layout.demo_cohort,
        patients=patients,
        centers=DEMO_CENTERS,
        seed=seed,
        signal=DEMO_SIGNAL,
        matrix=DEMO_MATRIX,
        workers=workers,
    )
    return build_cohort(options, progress=progress)


def import_demo_cohort(
    engine: Engine,
    data_dir: Path,
    scope: AccessScope,
    folder: Path,
    *,
    dry_run: bool = False,
    keep_mapping: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[ImportReport]:
    """Import a cohort written by the generator, every center, in one transaction; one
    report per importer and center (any refusal: nothing written)."""
    from gistcad.ingest.demo import import_demo  # DICOM and NIfTI readers: only here
    from gistcad.ingest.transaction import run_import

    return run_import(
        engine,
        data_dir,
        scope,
        lambda session, ctx: import_demo(session, folder, ctx, keep_mapping=keep_mapping),
        dry_run=dry_run,
        progress=progress,
    )
