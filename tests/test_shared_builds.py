"""The session's shared synthetic cohorts: built once, reused, never read half-written."""

from __future__ import annotations

import json

import pytest

from tests.shared_builds import cohort_key, session_folder, shared_cohort

#: one patient, one center, no follow-up: a build of a second or two
TINY = {"patients": 1, "centers": 1, "seed": 3, "matrix": 64, "scan_length_mm": 20.0}


def _seed(cohort_manifest: str) -> int:
    return int(json.loads(cohort_manifest)["options"]["seed"])


def test_the_same_options_give_the_same_cohort_built_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first = shared_cohort(tmp_path_factory, follow_up=False, **TINY)
    manifest = first / "manifest.json"
    assert _seed(manifest.read_text()) == TINY["seed"]
    built_at = manifest.stat().st_mtime_ns
    again = shared_cohort(tmp_path_factory, workers=2, follow_up=False, **TINY)
    assert again == first and manifest.stat().st_mtime_ns == built_at  # not built again
    other = shared_cohort(tmp_path_factory, follow_up=False, **{**TINY, "seed": 4})
    assert other != first and _seed((other / "manifest.json").read_text()) == 4


def test_what_a_failed_build_left_is_removed_and_the_build_done_again(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    options = {**TINY, "seed": 5, "follow_up": False}
    # what a build killed half-way leaves: a partial folder, never the finished one
    shared = session_folder(tmp_path_factory) / "shared-cohorts"
    partial = shared / f"{cohort_key(options)}.partial" / "cohort"
    partial.mkdir(parents=True)
    (partial / "oracle.csv").write_text("half-written\n")
    cohort = shared_cohort(tmp_path_factory, **options)
    assert _seed((cohort / "manifest.json").read_text()) == 5
    assert (cohort / "oracle.csv").read_text().startswith("patient_index,center,")
    assert not cohort.parent.with_name(f"{cohort.parent.name}.partial").exists()
