"""Does the data folder agree with the database? What ``gistcad db status`` and ``db repair`` use.

An import publishes its files and then commits its rows (:mod:`gistcad.ingest.transaction`). A
process killed between the two leaves **orphans**: files under ``volumes/`` that no row points
to. A killed import also leaves its **staging folder** (and, for a zip, its unpacked copy in
the system's temporary folder). Neither harms the data, and the next import of the same files
adopts the orphans; :func:`repair_data_folder` removes what no import will adopt. It never
touches a file a row points to. **Missing** files (a row whose file is gone: deleted by hand,
a restored database with an older data folder) cannot be repaired here; they are reported so
that the data can be imported again.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.ingest.staging import StaleFolders, find_stale
from gistcad.layout import DataLayout
from gistcad.store.engine import import_lock, session_scope
from gistcad.store.writes import referenced_data_files


@dataclass(frozen=True)
class DataFolderCheck:
    """How the data folder and the database disagree (empty tuples: they agree)."""

    orphans: tuple[str, ...]
    missing: tuple[str, ...]
    stale: StaleFolders

    @property
    def ok(self) -> bool:
        return not (self.orphans or self.missing or self.stale.all)

    def describe(self, data_dir: Path) -> list[str]:
        """Lines for the terminal: what is wrong and what to do."""
        if self.ok:
            return ["data folder: agrees with the database"]
        lines = []
        if self.orphans:
            size = sum(
                (data_dir / o).stat().st_size for o in self.orphans if (data_dir / o).exists()
            )
            lines.append(
                f"data folder: {len(self.orphans)} file(s) ({size / 1e6:.1f} MB) that no database "
                "row references, left by an import that was stopped; the next import of the "
                "same data adopts them, 'gistcad db repair' removes them"
            )
            lines += [f"  orphan: {o}" for o in self.orphans[:20]]
        if self.stale.all:
            lines.append(
                f"data folder: {len(self.stale.all)} folder(s) left by imports that were "
                f"stopped ({self.stale.size_bytes() / 1e6:.1f} MB); 'gistcad db repair' removes "
                "them (the next import does too)"
            )
            lines += [f"  stale: {p}" for p in self.stale.all]
        if self.missing:
            lines.append(
                f"data folder: {len(self.missing)} file(s) the database references are missing; "
                "restore the data folder from its backup or import those series again"
            )
            lines += [f"  missing: {m}" for m in self.missing[:20]]
        return lines


def _data_files(data_dir: Path) -> set[str]:
    root = DataLayout(data_dir).volumes
    if not root.is_dir():
        return set()
    return {str(p.relative_to(data_dir)) for p in root.rglob("*") if p.is_file()}


def check_data_folder(session: Session, data_dir: Path) -> DataFolderCheck:
    """Compare the files under ``volumes/`` with the rows that point to them."""
    referenced = referenced_data_files(session)
    on_disk = _data_files(data_dir)
    missing = {r for r in referenced if not (data_dir / r).is_file()}
    return DataFolderCheck(
        orphans=tuple(sorted(on_disk - referenced)),
        missing=tuple(sorted(missing)),
        stale=find_stale(data_dir),
    )


def repair_data_folder(engine: Engine, data_dir: Path) -> DataFolderCheck:
    """Remove orphans and stale import folders; returns what was found (and removed).

    Holds the import lock meanwhile, so that no import can be between publishing and
    committing while the orphans are listed: a file that import just published is never taken
    for an orphan. Missing files are reported, not repaired.
    """
    with session_scope(engine) as session:
        import_lock(session)
        found = check_data_folder(session, data_dir)
        for relative in found.orphans:
            (data_dir / relative).unlink(missing_ok=True)
        for folder in found.stale.all:
            shutil.rmtree(folder, ignore_errors=True)
        _remove_empty_folders(DataLayout(data_dir).volumes)
        session.rollback()
    return found


def _remove_empty_folders(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
