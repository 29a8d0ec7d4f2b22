"""Benchmark: CT viewer step time and page render time, against their targets.

Targets (dashboard issue): stepping one slice costs under 50 ms of server time on the demo
data; every page renders in under 1 s with 1,400 patients. Both are measured server-side in
the same run and printed with their ratio to the target (< 1 meets it).

- Viewer: one demo-size patient (512 matrix, 1 mm slices) is rendered by the synthetic
  generator and imported; then the viewer's work for one step (slice extraction from the
  memory-mapped canonical volume, windowing, mask overlay, aspect) is timed over 100 steps,
  uncached (the dashboard also caches rendered slices, so revisits are cheaper still).
- Pages: a database of 1,400 patients (two centers, outcomes, a model's predictions, and a
  trained clinical model with its out-of-fold evaluation) is seeded and every page is
  rendered with Streamlit's AppTest; the median of 3 warm runs is printed.

Usage::

    .venv/bin/python bench/viewer_and_pages.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gistcad.cli import main as cli  # noqa: E402
from gistcad.domain import ModelKind  # noqa: E402
from gistcad.imaging import read_nifti  # noqa: E402
from gistcad.modelling.request import TrainRequest  # noqa: E402
from gistcad.modelling.targets import Target  # noqa: E402
from gistcad.modelling.trainer import train_and_register  # noqa: E402
from gistcad.store import AccessScope, make_engine, migrations  # noqa: E402
from gistcad.synth.build import BuildOptions, build_cohort  # noqa: E402
from gistcad.viewer.slices import Plane, extract, render, to_lps, window  # noqa: E402
from tests.factories import seed_cohort  # noqa: E402

STEP_TARGET_S = 0.050
PAGE_TARGET_S = 1.0


def viewer_step(work: Path) -> None:
    cohort = work / "cohort"
    build_cohort(BuildOptions(out=cohort, patients=1, centers=1, seed=1, matrix=512, workers=1))
    os.environ["GISTCAD_DATA_DIR"] = str(work / "data")
    cli(["db", "upgrade"])
    cli(["import", "demo", str(cohort), "--json"])
    image_path = next((work / "data" / "volumes").rglob("*[0-9].nii"))
    mask_path = next((work / "data" / "volumes").rglob("*.mask1.nii"))
    start = time.perf_counter()
    image, mask = to_lps(read_nifti(image_path)), to_lps(read_nifti(mask_path))
    open_s = time.perf_counter() - start
    times = []
    n = image.array.shape[2]
    for step in range(100):
        k = (n // 3 + step) % n
        t0 = time.perf_counter()
        grey, aspect = extract(image, Plane.AXIAL, k)
        overlay, _ = extract(mask, Plane.AXIAL, k)
        render(window(grey, 50, 400), aspect, mask=overlay)
        times.append(time.perf_counter() - t0)
    coronal = []
    for step in range(20):
        t0 = time.perf_counter()
        grey, aspect = extract(image, Plane.CORONAL, 200 + step)
        render(window(grey, 50, 400), aspect, mask=extract(mask, Plane.CORONAL, 200 + step)[0])
        coronal.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"viewer: volume {image.array.shape}, opened (memory-mapped) in {open_s * 1000:.1f} ms")
    print(
        f"  axial step median {median * 1000:.1f} ms, p95 {np.percentile(times, 95) * 1000:.1f}"
        f" ms; target {STEP_TARGET_S * 1000:.0f} ms: ratio {median / STEP_TARGET_S:.2f}"
    )
    coronal_median = statistics.median(coronal)
    print(
        f"  coronal step median {coronal_median * 1000:.1f} ms: ratio "
        f"{coronal_median / STEP_TARGET_S:.2f}"
    )


def pages(work: Path) -> None:
    from streamlit.testing.v1 import AppTest

    data = work / "pages"
    data.mkdir()
    os.environ["GISTCAD_DATA_DIR"] = str(data)
    engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as session:
        seed_cohort(session, n=1400, with_series=True)
        request = TrainRequest.from_parameters(
            {"kind": ModelKind.CLINICAL, "target": Target.GENOTYPE, "name": "bench-clinical"}
        )
        train_and_register(session, AccessScope.everything(), data, request)
        session.commit()
    os.chdir(ROOT)
    for page in (
        "views/home.py",
        "views/cohort.py",
        "views/survival.py",
        "views/case.py",
        "views/performance.py",
        "views/jobs.py",
    ):
        runs = []
        for _ in range(4):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            if page == "views/case.py":
                at.query_params["patient"] = "P-007"
            at.run()
            at.switch_page(page)
            t0 = time.perf_counter()
            at.run()
            runs.append(time.perf_counter() - t0)
            assert not at.exception, at.exception
        warm = statistics.median(runs[1:])
        print(
            f"page {page:22s} {warm:.2f} s with 1,400 patients; target {PAGE_TARGET_S:.0f} s:"
            f" ratio {warm / PAGE_TARGET_S:.2f}"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="gistcad-bench-") as folder:
        if "--pages-only" not in sys.argv:
            viewer_step(Path(folder))
        pages(Path(folder))
