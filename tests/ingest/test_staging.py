"""Staging folders: a live import's folder is never swept, a dead one's always is."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gistcad.ingest.staging import FileStage, find_stale, sweep_stale
from gistcad.layout import STAGING_DIRNAME


def test_a_live_stage_survives_a_sweep_and_its_folder_goes_when_closed(tmp_path: Path) -> None:
    stage = FileStage(tmp_path)
    (stage.path_for(Path("volumes/x.nii"))).write_bytes(b"x")
    assert sweep_stale(tmp_path).all == ()
    assert stage.root.is_dir()
    stage.discard()
    assert not stage.root.exists()


def test_a_folder_being_made_is_not_taken_for_a_dead_one_until_it_is_old(tmp_path: Path) -> None:
    # between mkdir and taking the lock, an import's folder has no lock file yet
    draft = tmp_path / STAGING_DIRNAME / ".0123abcd"
    draft.mkdir(parents=True)
    assert find_stale(tmp_path).staging == ()
    old = time.time() - 2 * 3600
    os.utime(draft, (old, old))
    assert find_stale(tmp_path).staging == (draft,)
    # a dead import's folder (its lock file is there, nobody holds it) goes at once
    dead = tmp_path / STAGING_DIRNAME / "feedbeef"
    dead.mkdir()
    (dead / ".lock").touch()
    assert set(sweep_stale(tmp_path).staging) == {draft, dead}
    assert not dead.exists() and not draft.exists()
