"""Benchmark: cohort reads and survival statistics at consortium scale, against 1 s.

Target (issue 19): with 100,000 patients (12 centers, tumours, outcomes, one model's
predictions) in PostgreSQL, each of these takes under 1 s of server time, and the times from
1,400 to 10,000 to 100,000 patients grow linearly or better:

- cohort filter + count: a filtered selection counted by the database, and its first page
  of 100 rows (what the Cohort explorer shows);
- table one: the selection's table one by center (the read of the columns it needs
  included, as the Cohort explorer page reads them);
- KM + log-rank by genotype, by center and by predicted status: what ``gistcad survival
  --by ... --json`` computes (read, Kaplan–Meier, log-rank, pairwise tests, Cox with the PH
  check), without the command's start-up;
- the Cohort explorer and Survival pages, rendered by Streamlit's AppTest: the page itself
  (switched to and rendered in a started session, as a user opens it), and beside it, not
  against the target, a whole new AppTest session (AppTest's start-up, about 0.5–1 s of
  scanning the installed packages for components that a server does once when it starts,
  and the home page) that opens the page.

The database grows in place: it is seeded (bulk insert, no images, :mod:`gistcad.store.seeding`)
to the first size, timed, topped up to the next size, timed again. Each step is run once to
warm up, then ``--repeats`` times; the median is printed, with its ratio to the 1 s target.

On PostgreSQL the bench creates the database named in the URL (dropping one of that name
first) and drops it at the end; give it a scratch name, never a database that holds data.

Usage::

    .venv/bin/python bench/scale.py --patients 100000 \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/gistcad_scale
    .venv/bin/python bench/scale.py --patients 10000 --db sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from gistcad.analysis.cohort_explorer import (  # noqa: E402
    ANALYSED_COLUMNS,
    explorer_table,
    explorer_table_one,
)
from gistcad.analysis.cohort_survival import build_request  # noqa: E402
from gistcad.domain import GenotypeGroup, RiskScheme  # noqa: E402
from gistcad.store import AccessScope, make_engine, migrations, session_scope  # noqa: E402
from gistcad.store.queries import CohortFilter, cohort_count, cohort_page, cohort_table  # noqa: E402
from gistcad.store.seeding import SEED_MODEL_NAME, seed_cohort  # noqa: E402
from gistcad.survival import survival_for  # noqa: E402

TARGET_S = 1.0
#: the suffix of the steps timed beside the target (a page in a whole new AppTest session)
NEW_SESSION = ", new AppTest session"
SIZES = (1_400, 10_000, 100_000)
SCHEME = RiskScheme.MODIFIED_NIH_2008
SELECTION = CohortFilter(genotype_groups=frozenset({GenotypeGroup.KIT11}), age_range=(40, 80))
PROTECTED = frozenset({"postgres", "test", "template0", "template1"})


@dataclass
class Timings:
    """Median seconds of each step at each size."""

    sizes: list[int] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    seeding_s: list[float] = field(default_factory=list)
    #: the 1-minute load average of the machine after each size was timed
    load: list[float] = field(default_factory=list)

    def add(self, step: str, seconds: float) -> None:
        self.steps.setdefault(step, []).append(seconds)


def _median(work: Callable[[], object], repeats: int) -> float:
    work()  # warm-up: imports, plans, caches of the page
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def _steps(engine: Engine) -> dict[str, Callable[[], object]]:
    everyone = AccessScope.everything()

    def count_and_page() -> object:
        with session_scope(engine) as session:
            cohort_count(session, everyone, SELECTION)
            return cohort_page(session, everyone, SELECTION, page=1, page_size=100)

    def table_one() -> object:
        with session_scope(engine) as session:
            # what the Cohort explorer reads for its table one (and figures) in each run
            selected = cohort_table(
                session, everyone, SELECTION, columns=ANALYSED_COLUMNS, ordered=False
            )
            patients = explorer_table(selected, SCHEME)
        return explorer_table_one(patients, "center", SCHEME)

    def survival(by: str) -> Callable[[], object]:
        def run() -> object:
            model = SEED_MODEL_NAME if by == "predicted" else None
            with session_scope(engine) as session:
                return survival_for(
                    session, everyone, CohortFilter(), build_request(by=by), model=model
                )

        return run

    return {
        "cohort filter + count (+ first page)": count_and_page,
        "table one (by center)": table_one,
        "KM + log-rank by genotype": survival("genotype"),
        "KM + log-rank by center": survival("center"),
        "KM + log-rank by predicted status": survival("predicted"),
    }


def _page(page: str) -> Callable[[], tuple[float, float]]:
    """A run of the app in a new AppTest session that opens ``page``; it returns the seconds
    of the page itself (switching to it and rendering it, in the started session) and of the
    whole session (AppTest's own start-up, which scans every installed package for
    Streamlit components once per AppTest as a server does once at its start, the home page,
    then the page)."""
    from streamlit.testing.v1 import AppTest

    def run() -> tuple[float, float]:
        start = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        opened = time.perf_counter()
        at.switch_page(page)
        at.run()
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception}")
        end = time.perf_counter()
        return end - opened, end - start

    return run


def _page_medians(run: Callable[[], tuple[float, float]], repeats: int) -> tuple[float, float]:
    run()  # warm-up, as _median
    runs = [run() for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def measure(url: str, sizes: tuple[int, ...], *, repeats: int = 3, pages: bool = True) -> Timings:
    """Seed ``url``'s (migrated, empty) database up to each size in turn and time each step.

    The page timings render the whole app and switch to the page (AppTest), with the
    environment pointing the app at ``url``.
    """
    engine = make_engine(url)
    migrations.upgrade(engine)
    timings = Timings()
    seeded = 0
    try:
        for size in sizes:
            added = seed_cohort(engine, size - seeded, seed=size)
            seeded = size
            timings.sizes.append(size)
            timings.seeding_s.append(added.seconds)
            for name, work in _steps(engine).items():
                timings.add(name, _median(work, repeats))
            if pages:
                with _app_pointed_at(url):
                    for name, page in (
                        ("Cohort explorer page", "views/cohort.py"),
                        ("Survival page", "views/survival.py"),
                    ):
                        render, session = _page_medians(_page(page), repeats)
                        timings.add(f"{name} (AppTest)", render)
                        timings.add(f"{name}{NEW_SESSION}", session)
            timings.load.append(os.getloadavg()[0])
            logging.info("timed %d patients", size)
    finally:
        engine.dispose()
    return timings


@contextlib.contextmanager
def _app_pointed_at(url: str) -> Iterator[None]:
    import streamlit as st

    saved = {k: os.environ.get(k) for k in ("GISTCAD_DB_URL", "GISTCAD_DATA_DIR")}
    with tempfile.TemporaryDirectory(prefix="gistcad-scale-") as folder:
        os.environ["GISTCAD_DB_URL"] = url
        os.environ["GISTCAD_DATA_DIR"] = folder
        st.cache_resource.clear()
        st.cache_data.clear()
        cwd = Path.cwd()
        os.chdir(ROOT)
        try:
            yield
        finally:
            os.chdir(cwd)
            st.cache_resource.clear()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def report(timings: Timings, backend: str) -> str:
    """The table: one row per step, one column per size, the ratio to 1 s at the largest
    size and the growth of the time against the growth of the cohort over the last step."""
    sizes = timings.sizes
    head = f"{'step (' + backend + ')':44s}" + "".join(f"{n:>11,d}" for n in sizes)
    lines = [head + "   ratio to 1 s   time growth / size growth"]
    for name, values in timings.steps.items():
        line = f"{name:44s}" + "".join(f"{v:>10.2f}s" for v in values)
        if name.endswith(NEW_SESSION):
            line += f"   {'(no target)':>12s}"
        else:
            line += f"   {values[-1] / TARGET_S:12.2f}"
        if len(values) > 1:
            growth = (values[-1] / values[-2]) / (sizes[-1] / sizes[-2])
            line += (
                f"   {values[-1] / values[-2]:.1f}x / {sizes[-1] / sizes[-2]:.1f}x = {growth:.2f}"
            )
        lines.append(line)
    seeding = ", ".join(f"{s:.1f} s" for s in timings.seeding_s)
    lines.append(f"(seeding, bulk insert, per increment: {seeding})")
    load = ", ".join(f"{x:.1f}" for x in timings.load)
    lines.append(f"(load average, 1 min, on {os.cpu_count()} CPUs, after each size: {load})")
    return "\n".join(lines)


@contextlib.contextmanager
def scratch_database(db: str) -> Iterator[tuple[str, str]]:
    """The URL to measure and its backend name: a fresh PostgreSQL database of the URL's
    name (dropped afterwards), or a SQLite file in a temporary folder for ``sqlite``."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gistcad-scale-") as folder:
            yield f"sqlite:///{Path(folder) / 'scale.sqlite'}", "SQLite"
        return
    url = make_url(db)
    name = url.database or ""
    if url.get_backend_name() != "postgresql" or not name or name in PROTECTED:
        raise SystemExit(
            f"--db must be 'sqlite' or a PostgreSQL URL naming a scratch database (e.g. "
            f".../gistcad_scale), not {name or db!r}: the bench drops and recreates it"
        )
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.render_as_string(hide_password=False), "PostgreSQL"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000, help="the largest size")
    parser.add_argument("--db", default="sqlite", help="'sqlite' or a PostgreSQL URL")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pages", action="store_true", help="skip the AppTest pages")
    args = parser.parse_args(argv)
    sizes = (*(n for n in SIZES if n < args.patients), args.patients)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with scratch_database(args.db) as (url, backend):
        timings = measure(url, sizes, repeats=args.repeats, pages=not args.no_pages)
    print(report(timings, backend))


if __name__ == "__main__":
    main()
