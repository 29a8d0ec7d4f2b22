"""A training job's fraction done from its messages, and the time left from it."""

from __future__ import annotations

import datetime as dt

import pytest

from gistcad.job_progress import (
    MAX_RUNNING,
    TrainingProgress,
    describe_time_left,
    parameters_text,
    seconds_left,
    time_left_text,
)


def test_folds_and_the_final_fit_are_equal_stages() -> None:
    tracker = TrainingProgress()
    assert tracker.update("loading") is None  # nothing known before the first fold
    assert tracker.update("fold 1/4 (fold 1)") == 0.0
    assert tracker.update("radiomics features 5/10") == pytest.approx(0.5 / 5)
    assert tracker.update("fold 3/4 (fold 3)") == pytest.approx(2 / 5)
    assert tracker.update("final model on all patients") == pytest.approx(4 / 5)
    assert tracker.update("radiomics features 10/10") == MAX_RUNNING  # never 1 before the end


def test_a_deep_model_reads_crops_then_trains_epochs() -> None:
    tracker = TrainingProgress(epochs=True)
    tracker.update("fold 1/1 (hold-out)")  # one fold and the final fit: halves
    assert tracker.update("crops 10/10") == pytest.approx(0.3 / 2)
    assert tracker.update("epoch 5/10 val loss 0.900") == pytest.approx((0.3 + 0.35) / 2)
    assert tracker.update("final model on all patients") == pytest.approx(0.5)
    assert tracker.update("crops 5/10") == pytest.approx((1 + 0.15) / 2)


def test_the_fraction_never_goes_back() -> None:
    tracker = TrainingProgress()
    tracker.update("fold 2/2 (without B)")
    assert tracker.update("fold 1/2 (without A)") == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("elapsed", "fraction", "left"),
    [(60.0, 0.25, 180.0), (30.0, 1.0, 0.0), (10.0, 0.0, None), (0.0, 0.5, 0.0)],
)
def test_seconds_left_extrapolates_the_rate(
    elapsed: float, fraction: float, left: float | None
) -> None:
    assert seconds_left(elapsed, fraction) == left


def test_time_left_in_words() -> None:
    assert describe_time_left(None) == ""
    assert describe_time_left(59) == "less than a minute left"
    assert describe_time_left(150) == "about 2 min left"
    assert describe_time_left(3600) == "about 60 min left"


def test_parameters_are_one_short_line_with_lists_counted() -> None:
    pseudonyms = [f"P-{i:03d}" for i in range(12)]
    text = parameters_text(
        {"model_version_id": 4, "pseudonyms": pseudonyms, "pid": 77, "host": "h", "process": "x"}
    )
    assert text == "model version 4, 12 patients"
    assert "P-000" not in text
    train = {"kind": "clinical", "target": "kit11", "name": None, "predict_all": True}
    assert parameters_text({**train, "restart_of": 7}) == (
        "kind Clinical, target KIT exon 11 vs rest, then predict all, restart of job 7"
    )


def test_time_left_is_extrapolated_from_the_elapsed_time_of_a_running_job() -> None:
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    # 40 % done after 4 minutes: 6 minutes left at the same pace
    assert time_left_text("running", start, 0.4, start + dt.timedelta(minutes=4)) == (
        "about 6 min left"
    )
    naive = start.replace(tzinfo=None)  # as SQLite hands it back
    assert time_left_text("running", naive, 0.9, start + dt.timedelta(seconds=90)) == (
        "less than a minute left"
    )
    assert time_left_text("running", start, 0.0, start + dt.timedelta(minutes=4)) == ""
    assert time_left_text("succeeded", start, 1.0, start + dt.timedelta(minutes=4)) == ""
