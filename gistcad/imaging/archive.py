"""Extracting a center's zip export without letting it write outside its folder or fill the disk.

:func:`safe_extract` checks every member from the central directory *before* writing anything
(paths that escape the target, absolute paths and drive letters, symbolic links, encrypted
members, member and total sizes over the limits, too many members), then extracts while
counting the bytes actually written, because a forged header can understate a member's size
(a zip bomb). On any refusal nothing extracted by this call is left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from gistcad.imaging.errors import ArchiveError
from gistcad.problems import Problem

logger = logging.getLogger(__name__)

#: Defaults: 20 GiB in all, 100,000 members (a large CT export has tens of thousands of files).
DEFAULT_MAX_TOTAL_BYTES = 20 * 1024**3
DEFAULT_MAX_MEMBERS = 100_000
_CHUNK = 1 << 20


def _refuse(zip_path: Path, member: str, message: str) -> ArchiveError:
    text = f"{zip_path}, member {member!r}: {message}; nothing was extracted"
    return ArchiveError(text, [Problem(f"{zip_path}:{member}", message)])


def _member_path(zip_path: Path, info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's relative path, or an ArchiveError if it could land outside the target."""
    name = info.filename
    if "\x00" in name:
        raise _refuse(zip_path, name, "the name contains a NUL byte")
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise _refuse(zip_path, name, "an absolute path would write outside the target folder")
    if ".." in path.parts:
        raise _refuse(zip_path, name, "a '..' component would write outside the target folder")
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def check_members(
    zip_path: Path, archive: zipfile.ZipFile, *, max_total_bytes: int, max_members: int
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Check the central directory; return the file members with their safe relative paths."""
    infos = archive.infolist()
    if len(infos) > max_members:
        raise ArchiveError(
            f"{zip_path}: {len(infos):,} members, over the limit of {max_members:,}; split the "
            "export or raise the limit",
            [Problem(str(zip_path), f"{len(infos)} members > {max_members}")],
        )
    members, total, seen = [], 0, set()
    for info in infos:
        path = _member_path(zip_path, info)
        if path in seen:
            raise _refuse(zip_path, info.filename, "the archive holds this name twice")
        seen.add(path)
        if _is_symlink(info):
            raise _refuse(zip_path, info.filename, "symbolic links are not extracted")
        if info.flag_bits & 0x1:
            raise _refuse(
                zip_path, info.filename, "the member is encrypted; export without a password"
            )
        if info.is_dir():
            continue
        if info.file_size > max_total_bytes:
            raise _refuse(
                zip_path,
                info.filename,
                f"{info.file_size:,} bytes, over the limit of {max_total_bytes:,}",
            )
        total += info.file_size
        members.append((info, path))
    if total > max_total_bytes:
        raise ArchiveError(
            f"{zip_path}: the members add up to {total:,} bytes uncompressed, over the limit of "
            f"{max_total_bytes:,}; free space and raise the limit, or split the export",
            [Problem(str(zip_path), f"{total} bytes > {max_total_bytes}")],
        )
    return members


def _copy_counted(
    zip_path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path, budget: int
) -> int:
    """Copy one member, refusing as soon as it exceeds its declared size or the budget."""
    written = 0
    try:
        with archive.open(info) as source, open(out, "wb") as target:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise _refuse(
                        zip_path,
                        info.filename,
                        f"decompresses to more than its declared {info.file_size:,} bytes or "
                        "the remaining limit (a forged header or a zip bomb)",
                    )
                target.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise _refuse(
            zip_path,
            info.filename,
            f"the member is damaged or its header lies about it ({exc}); copy the archive again",
        ) from exc
    return written


def safe_extract(
    zip_path: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[Path]:
    """Extract a zip archive into ``target_dir`` after checking every member.

    Parameters
    ----------
    zip_path
        The archive.
    target_dir
        Folder to extract into (created if needed); nothing is written outside it.
    max_total_bytes
        Largest total uncompressed size, in bytes, checked before and while extracting.
    max_members
        Largest number of entries in the central directory.

    Returns
    -------
    list of Path
        The extracted files, in archive order.

    Raises
    ------
    ArchiveError
        Naming the member and the rule it breaks; files extracted by this call are removed.
    """
    source = Path(zip_path)
    target = Path(target_dir)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(
            f"{source}: not a readable zip archive ({exc}); copy it again",
            [Problem(str(source), "not a readable zip archive")],
        ) from exc
    created: list[Path] = []
    made_dirs: list[Path] = []
    with archive:
        members = check_members(
            source, archive, max_total_bytes=max_total_bytes, max_members=max_members
        )
        target.mkdir(parents=True, exist_ok=True)
        root = target.resolve()
        budget = max_total_bytes
        try:
            for info, relative in members:
                out = root.joinpath(*relative.parts)
                if not out.resolve().is_relative_to(root):
                    raise _refuse(source, info.filename, "resolves outside the target folder")
                if out.exists() or out.is_symlink():
                    raise _refuse(
                        source,
                        info.filename,
                        "a file of that name already exists in the target folder; extract "
                        "into an empty folder",
                    )
                for parent in reversed(out.parents):
                    if parent.is_relative_to(root) and not parent.exists():
                        parent.mkdir()
                        made_dirs.append(parent)
                created.append(out)
                budget -= _copy_counted(source, archive, info, out, budget)
        except BaseException:
            for path in created:
                path.unlink(missing_ok=True)
            for directory in reversed(made_dirs):
                shutil.rmtree(directory, ignore_errors=True)
            raise
    logger.info("extracted %d files from %s into %s", len(created), source, target)
    return created
