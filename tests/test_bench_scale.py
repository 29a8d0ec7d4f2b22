"""The scale bench's core at a tiny size, so that it cannot rot (timings are not checked)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("scale")


def test_the_bench_times_every_step_at_two_sizes_on_sqlite(tmp_path: Path) -> None:
    bench = _bench()
    url = f"sqlite:///{tmp_path / 'scale.sqlite'}"
    timings = bench.measure(url, (150, 300), repeats=1, pages=True)
    assert timings.sizes == [150, 300]
    assert set(timings.steps) == {
        "cohort filter + count (+ first page)",
        "table one (by center)",
        "KM + log-rank by genotype",
        "KM + log-rank by center",
        "KM + log-rank by predicted status",
        "Cohort explorer page (AppTest)",
        "Survival page (AppTest)",
        "Cohort explorer page, new AppTest session",
        "Survival page, new AppTest session",
    }
    assert all(len(v) == 2 and min(v) > 0 for v in timings.steps.values())
    for page in ("Cohort explorer page", "Survival page"):  # the session includes the page
        page_s, session_s = (
            timings.steps[f"{page} (AppTest)"],
            timings.steps[f"{page}{bench.NEW_SESSION}"],
        )
        assert all(p < s for p, s in zip(page_s, session_s, strict=True))
    table = bench.report(timings, "SQLite")
    assert "KM + log-rank by center" in table and "ratio to 1 s" in table
    assert "(no target)" in table
    assert len(timings.load) == 2 and "load average" in table


def test_the_bench_refuses_a_database_that_may_hold_data() -> None:
    bench = _bench()
    for url in ("postgresql+psycopg://postgres@127.0.0.1:5432/test", "mysql://x@y/z"):
        with pytest.raises(SystemExit, match="scratch database"), bench.scratch_database(url):
            pass
