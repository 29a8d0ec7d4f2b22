"""Files written by an import become visible only if the import's transaction commits.

An import writes its canonical volumes into a staging folder inside the data folder. Once the
database rows are flushed without error, :meth:`FileStage.publish` moves the files to their
final places (a rename within one file system); if anything fails before the commit,
:meth:`FileStage.discard` removes what was staged and published, so the data folder is left as
it was. Existing files are never overwritten.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import uuid
from pathlib import Path

from gistcad.errors import GistcadError

logger = logging.getLogger(__name__)

STAGING_DIRNAME = ".staging"


class FileStage:
    """Staged files of one import, keyed by their final path relative to the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / STAGING_DIRNAME / uuid.uuid4().hex
        self.root.mkdir(parents=True)
        self._pending: list[Path] = []
        self._published: list[Path] = []

    def path_for(self, relative: Path) -> Path:
        """Where to write the file that will live at ``data_dir / relative``."""
        if relative.is_absolute() or ".." in relative.parts:
            raise GistcadError(f"refusing a data-folder path outside the folder: {relative}")
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self._pending.append(relative)
        return target

    def resolve(self, relative: Path | str) -> Path:
        """Where the file for ``relative`` is now: staged by this import, else published."""
        relative = Path(relative)
        if relative in self._pending:
            return self.root / relative
        return self.data_dir / relative

    def publish(self) -> None:
        """Move every staged file to its final place; refuses to overwrite."""
        for relative in self._pending:
            final = self.data_dir / relative
            if final.exists():
                raise GistcadError(
                    f"{final} already exists; the data folder and the database disagree. Run "
                    "'gistcad db status' and check the folder before importing again"
                )
            final.parent.mkdir(parents=True, exist_ok=True)
            (self.root / relative).replace(final)
            self._published.append(final)
        self._pending.clear()
        self._cleanup()

    def discard(self) -> None:
        """Remove staged files and any already published by this stage."""
        for final in self._published:
            final.unlink(missing_ok=True)
        self._published.clear()
        self._pending.clear()
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.parent.rmdir()
