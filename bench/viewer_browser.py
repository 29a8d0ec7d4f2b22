"""Benchmark: a CT slice step in chromium, browser viewer against the server round trip.

Target (dashboard issue): a slice step under 50 ms in the browser, no lost wheel events.
Anchor, in the same run and the same chromium: the server round trip the case view used
before, a Streamlit fragment whose "next" button reruns it to render the next slice on the
server (extraction from the memory-mapped volume, windowing, mask overlay) and send it as a
PNG; the step is timed in the page from the click until the new image is decoded.

- One synthetic patient (``--matrix``, default 256; 512 is the demo's size) is generated and
  imported into a temporary data folder.
- Browser: ``gistcad serve`` and the case view; 20 wheel events on the NiiVue canvas, each
  timed in the page from the event to the next frame (the step), to the slice drawn
  (``gl.finish``) and to the frame after (on screen), as tests/app/test_browser_viewer.py.
- Anchor: the server-rendered viewer served by ``streamlit run`` over the same volume, 20 steps.

Median and p90 of each are printed, with the ratio anchor / browser. Chromium renders WebGL
with SwiftShader (on the CPU), as on a workstation without a GPU driver.

Usage::

    .venv/bin/python bench/viewer_browser.py [--matrix 512] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gistcad.store import make_engine  # noqa: E402
from gistcad.store.models import Patient  # noqa: E402
from gistcad.synth.build import BuildOptions, build_cohort  # noqa: E402
from tests.app.test_browser import CHROMIUM, serving  # noqa: E402
from tests.app.test_browser_viewer import TIMED_STEPS, WEBGL_FLAGS, open_viewer  # noqa: E402

STEP_TARGET_MS = 50.0

#: the server round trip, as the case view's viewer did it before the browser viewer
ANCHOR_APP = """
import sys
import streamlit as st
from gistcad.imaging import read_nifti
from gistcad.viewer.slices import Plane, extract, render, slice_count, to_lps, window

@st.cache_resource
def volumes():
    return to_lps(read_nifti(sys.argv[1])), to_lps(read_nifti(sys.argv[2]))

@st.fragment
def viewer():
    image, mask = volumes()
    last = slice_count(image, Plane.AXIAL) - 1
    if "k" not in st.session_state:
        st.session_state.k = last // 3
    if st.button("next slice"):
        st.session_state.k = min(st.session_state.k + 1, last)
    k = st.session_state.k
    grey, aspect = extract(image, Plane.AXIAL, k)
    overlay = extract(mask, Plane.AXIAL, k)[0]
    picture = render(window(grey, 50, 400), aspect, mask=overlay)
    st.image(picture, caption=f"slice {k + 1}", width=560)

viewer()
"""

# In the anchor's page: click "next slice" n times, each timed until the new image is decoded.
ANCHOR_STEPS = """async (n) => {
  const image = () => document.querySelector('[data-testid="stImage"] img, img[src*="/media/"]');
  const button = [...document.querySelectorAll('button')]
    .find(b => b.innerText.includes('next slice'));
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const times = [];
  for (let i = 0; i < n; i++) {
    const before = image().src;
    const t0 = performance.now();
    button.click();
    while (!image() || image().src === before) {
      await frame();
      if (performance.now() - t0 > 10000) throw new Error('no new slice after 10 s');
    }
    await image().decode();
    await frame();
    times.push(performance.now() - t0);
  }
  return times;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _summary(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    print(f"{name}: median {median:.1f} ms, p90 {p90:.1f} ms, max {max(times):.1f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="gistcad-bench-") as folder:
        work = Path(folder)
        data, cohort = work / "data", work / "cohort"
        build_cohort(
            BuildOptions(
                out=cohort, patients=1, centers=1, seed=5, matrix=options.matrix, workers=1
            )
        )
        env = {**os.environ, "GISTCAD_DATA_DIR": str(data)}
        env.pop("GISTCAD_DB_URL", None)
        for command in (["db", "upgrade"], ["import", "demo", str(cohort), "--json"]):
            subprocess.run(
                [sys.executable, "-m", "gistcad.cli", *command],
                env=env,
                check=True,
                capture_output=True,
            )
        engine = make_engine(f"sqlite:///{data / 'gistcad.sqlite'}")
        with Session(engine) as s:
            pseudonym = str(s.scalars(select(Patient.pseudonym)).one())
        engine.dispose()
        image = next((data / "volumes").rglob("*[0-9].nii"))
        mask = next((data / "volumes").rglob("*.mask1.nii"))
        print(
            f"one synthetic patient, matrix {options.matrix}: {image.stat().st_size / 1e6:.0f} MB"
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=WEBGL_FLAGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            with serving(data) as url:
                for visit in ("first (server cold)", "second (server cache warm)"):
                    t0 = time.perf_counter()
                    viewer = open_viewer(tab, f"{url}/case?patient={pseudonym}")
                    print(
                        f"case view opened until the CT is drawn, {visit} visit: "
                        f"{time.perf_counter() - t0:.1f} s"
                    )
                viewer.evaluate(  # type: ignore[attr-defined]
                    "() => { const nv = window.ctViewer.nv; nv.scene.crosshairPos[2] = 0.5;"
                    " nv.drawScene(); }"
                )
                timed = viewer.evaluate(TIMED_STEPS, options.steps)  # type: ignore[attr-defined]
            slices = timed["slices"]
            lost = options.steps - abs(slices[-1] - slices[0])
            browser_ms = _summary(
                f"browser viewer, {options.steps} wheel steps ({lost} lost), event to next frame",
                timed["times"],
            )
            _summary("  of which the slice drawn (gl.finish)", timed["rendered"])
            _summary("  event to the frame after (new slice on screen)", timed["presented"])
            _summary("  the browser's frame interval with nothing to do", timed["idle"])
            app = work / "anchor_app.py"
            app.write_text(ANCHOR_APP)
            port = _free_port()
            server = subprocess.Popen(
                [
                    sys.executable, "-m", "streamlit", "run", str(app),
                    "--server.headless", "true", "--server.port", str(port),
                    "--browser.gatherUsageStats", "false", "--", str(image), str(mask),
                ],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.5)
                tab.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle", timeout=60_000)
                tab.get_by_text("next slice").first.wait_for(timeout=60_000)
                tab.locator("img[src*='/media/']").first.wait_for(timeout=60_000)
                anchor = tab.evaluate(ANCHOR_STEPS, options.steps)
            finally:
                server.terminate()
                server.wait(timeout=20)
            browser.close()
        anchor_ms = _summary(f"server round trip (anchor), {options.steps} button steps", anchor)
        print(
            f"ratio anchor / browser: {anchor_ms / browser_ms:.1f}; browser target "
            f"{STEP_TARGET_MS:.0f} ms: ratio {browser_ms / STEP_TARGET_MS:.2f}"
        )


if __name__ == "__main__":
    main()
