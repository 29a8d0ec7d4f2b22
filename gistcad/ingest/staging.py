"""Files written by an import become visible only if the import's transaction commits.

An import writes its canonical volumes into a staging folder inside the data folder. Once the
database rows are flushed without error, :meth:`FileStage.publish` moves the files to their
final places (a rename within one file system) and the caller commits; if anything fails before
the commit, :meth:`FileStage.discard` removes what was staged and published, so the data folder
is left as it was.

A process can also be killed (out of memory, Ctrl-C twice, a reboot) at any step; then nothing
runs to clean up. What can be left, and how it is recovered:

* a **staging folder** of a dead import. Every live stage holds an exclusive ``flock`` on a
  lock file inside its folder, which the kernel releases when the process dies however it
  dies; :func:`sweep_stale` removes the folders whose lock can be taken. Every import calls it
  before it starts, and so does ``gistcad db repair``.
* a **published file the database does not know** (killed between publishing and the
  commit). Publishing is idempotent: a file already at its final place with the same content
  is adopted, and one with other content is replaced when the database references no file
  there (the caller says which paths are referenced). ``gistcad db status`` lists such orphans
  and ``gistcad db repair`` removes them; neither touches a referenced file.
* an **unpacked archive**. Zips are unpacked by :func:`unpack_folder` into the system's
  temporary folder, never into the data folder, because their DICOM headers still carry names,
  ids and birth dates; it is removed on exit, and a dead import's folder is removed by the next
  :func:`sweep_stale`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gistcad.errors import GistcadError
from gistcad.ingest.failpoints import checkpoint
from gistcad.layout import DataLayout

logger = logging.getLogger(__name__)

UNPACK_PREFIX = "gistcad-unpack-"
LOCK_NAME = ".lock"
HIDDEN = "."  # a folder being made; swept only when its lock is free and it is an hour old
DRAFT_MAX_AGE_S = 3600
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _OwnedFolder:
    """A folder with a lock file that this process holds while the folder is in use.

    The folder is made under a hidden name, locked, and only then renamed to ``root``, so that
    a sweep never sees it without its lock (and takes it for a dead import's).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        draft = root.with_name(f"{HIDDEN}{root.name}")
        draft.mkdir(parents=True)
        self._lock: IO[bytes] | None = (draft / LOCK_NAME).open("wb")
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        draft.rename(root)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _is_abandoned(folder: Path) -> bool:
    """True when no live process holds ``folder``'s lock (its owner died or never locked).

    A folder still under its hidden draft name may be one a live process has just made and
    not locked yet: it counts as abandoned only an hour after it was made.
    """
    if folder.name.startswith(HIDDEN):
        try:
            if time.time() - folder.stat().st_mtime < DRAFT_MAX_AGE_S:
                return False
        except OSError:
            return False
    lock = folder / LOCK_NAME
    try:
        handle = lock.open("rb")
    except OSError:
        return True
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


@dataclass(frozen=True)
class StaleFolders:
    """Folders left by imports that died: staging in the data folder, unpacked archives."""

    staging: tuple[Path, ...]
    unpacked: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        return self.staging + self.unpacked

    def size_bytes(self) -> int:
        return sum(
            f.stat().st_size for folder in self.all for f in folder.rglob("*") if f.is_file()
        )


def find_stale(data_dir: Path) -> StaleFolders:
    """Staging and unpack folders whose import is no longer running."""
    staging_root = DataLayout(data_dir).staging
    staging = (
        sorted(p for p in staging_root.iterdir() if p.is_dir() and _is_abandoned(p))
        if staging_root.is_dir()
        else []
    )
    temp = Path(tempfile.gettempdir())
    unpacked = sorted(
        p
        for pattern in (f"{UNPACK_PREFIX}*", f"{HIDDEN}{UNPACK_PREFIX}*")
        for p in temp.glob(pattern)
        if p.is_dir() and _is_abandoned(p)
    )
    return StaleFolders(tuple(staging), tuple(unpacked))


def sweep_stale(data_dir: Path) -> StaleFolders:
    """Remove what :func:`find_stale` finds; returns what was removed."""
    stale = find_stale(data_dir)
    for folder in stale.all:
        logger.info("removing %s, left by an import that did not finish", folder)
        shutil.rmtree(folder, ignore_errors=True)
    return stale


@contextlib.contextmanager
def unpack_folder() -> Iterator[Path]:
    """A private temporary folder outside the data folder, removed on exit."""
    folder = _OwnedFolder(Path(tempfile.gettempdir()) / f"{UNPACK_PREFIX}{uuid.uuid4().hex}")
    os.chmod(folder.root, 0o700)
    files = folder.root / "files"  # beside the lock file, which is not part of the export
    files.mkdir()
    try:
        yield files
    finally:
        folder.remove()


class FileStage:
    """Staged files of one import, keyed by their final path relative to the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._folder = _OwnedFolder(DataLayout(data_dir).staging / uuid.uuid4().hex)
        self.root = self._folder.root
        self._pending: list[Path] = []
        self._published: list[Path] = []

    def path_for(self, relative: Path) -> Path:
        """Where to write the file that will live at ``data_dir / relative``."""
        if relative.is_absolute() or ".." in relative.parts:
            raise GistcadError(f"refusing a data-folder path outside the folder: {relative}")
        checkpoint("stage")
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

    def publish(self, is_referenced: Callable[[str], bool], checkpoint: Callable[[], None]) -> None:
        """Move every staged file to its final place.

        A file already there with the same bytes is adopted (an earlier import was killed
        after publishing it); one with other bytes is replaced if ``is_referenced`` says the
        database knows no file at that path, and refused otherwise. ``checkpoint`` is called
        after each file (it lets the fault-injection tests stop the process there).
        """
        for relative in self._pending:
            staged, final = self.root / relative, self.data_dir / relative
            if final.exists():
                if file_sha256(final) == file_sha256(staged):
                    staged.unlink()
                    checkpoint()
                    continue
                if is_referenced(str(relative)):
                    raise GistcadError(
                        f"{final} already exists with other content and the database "
                        "references it; nothing was imported. Run 'gistcad db status'"
                    )
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(final)
            self._published.append(final)
            checkpoint()
        self._pending.clear()

    def discard(self) -> None:
        """Remove staged files and any already published by this stage."""
        for final in self._published:
            final.unlink(missing_ok=True)
        self._published.clear()
        self._pending.clear()
        self.close()

    def close(self) -> None:
        """Remove the (by now empty or unwanted) staging folder and release its lock.

        The ``.staging`` folder itself stays: removing it could pull it away from under
        another import that is making its own folder there.
        """
        self._folder.remove()
