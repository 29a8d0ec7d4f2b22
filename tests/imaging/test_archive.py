"""Zip safety: no escapes, no links, no bombs; nothing left behind on refusal."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from gistcad.imaging.archive import safe_extract
from gistcad.imaging.errors import ArchiveError


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_good_archive_extracts(tmp_path: Path) -> None:
    source = _zip(tmp_path / "ok.zip", {"a/1.dcm": b"x" * 10, "a/b/2.dcm": b"y" * 20})
    files = safe_extract(source, tmp_path / "out", max_total_bytes=1000, max_members=10)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files] == ["a/1.dcm", "a/b/2.dcm"]
    assert (tmp_path / "out/a/b/2.dcm").read_bytes() == b"y" * 20


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", r"'\.\./evil\.txt'.*'\.\.' component"),
        ("/etc/evil", "absolute path"),
        ("C:/evil", "absolute path"),
        ("a/../../evil", "'..' component"),
    ],
)
def test_members_escaping_the_target_are_refused(tmp_path: Path, name: str, match: str) -> None:
    source = _zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"evil"})
    with pytest.raises(ArchiveError, match=match):
        safe_extract(source, tmp_path / "out")
    assert not (tmp_path / "out" / "fine.txt").exists()  # checked before anything was written
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "link.zip"
    with zipfile.ZipFile(source, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="'link': symbolic links"):
        safe_extract(source, tmp_path / "out")


def test_sizes_and_counts_over_the_limits_are_refused(tmp_path: Path) -> None:
    source = _zip(tmp_path / "big.zip", {"a": b"0" * 600, "b": b"0" * 600})
    with pytest.raises(ArchiveError, match="'a': 600 bytes, over the limit of 500"):
        safe_extract(source, tmp_path / "out", max_total_bytes=500)
    with pytest.raises(ArchiveError, match="add up to 1,200 bytes"):
        safe_extract(source, tmp_path / "out", max_total_bytes=1000)
    with pytest.raises(ArchiveError, match="2 members, over the limit of 1"):
        safe_extract(source, tmp_path / "out", max_members=1)


def test_header_that_understates_the_size_is_caught_while_extracting(tmp_path: Path) -> None:
    source = _zip(tmp_path / "liar.zip", {"first.txt": b"ok", "bomb.bin": b"\0" * 100_000})
    data = bytearray(source.read_bytes())
    # Rewrite bomb.bin's uncompressed size (central directory and local header) to 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    local = data.find(b"PK\x03\x04", 10)
    struct.pack_into("<I", data, local + 22, 10)
    source.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"'bomb\.bin'"):
        safe_extract(source, tmp_path / "out", max_total_bytes=1000)
    assert list((tmp_path / "out").rglob("*")) == []  # first.txt was removed again


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(ArchiveError, match="not a readable zip"):
        safe_extract(tmp_path / "x.zip", tmp_path / "out")
