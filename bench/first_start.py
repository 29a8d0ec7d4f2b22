"""Benchmark: a new user's first start, from a fresh clone to the dashboard and the demo models.

Targets (first-start issue), on 2 idle cores:
- dashboard answering, with the demo cohort browsable, in under 3 minutes after the README's
  command starts, the install included;
- all three demo models registered (trained in the background) in under 6 minutes.

It clones this repository (its committed HEAD) into a temporary folder, runs the README's
``make run`` there with a data folder of its own and a free port, polls the health endpoint
``http://localhost:PORT/_stcore/health``, then polls ``gistcad jobs list --json`` until the
three demo jobs have succeeded. It prints both times, each as a ratio of its budget, and the
load average beside them; at the end it stops everything it started and removes the clone.

Usage::

    python3.11 bench/first_start.py                      # the full first start, install included
    python3.11 bench/first_start.py --venv .venv         # reuse an installed environment
                                                         # (no network; the install is not timed)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SERVE_BUDGET_S = 180.0
MODELS_BUDGET_S = 360.0
DEMO_MODELS = ("demo-clinical", "demo-radiomics", "demo-deep")
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def demo_jobs(clone: Path, env: dict[str, str]) -> dict[str, str]:
    """Each demo model's newest job status (``gistcad jobs list --json``)."""
    listed = subprocess.run(
        [str(clone / ".venv" / "bin" / "gistcad"), "jobs", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        return {}
    statuses: dict[str, str] = {}
    for job in reversed(json.loads(listed.stdout)):  # oldest first: the newest wins
        parameters = job.get("parameters") or {}
        if parameters.get("demo") and parameters.get("name") in DEMO_MODELS:
            statuses[parameters["name"]] = job["status"]
    return statuses


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="an installed .venv to reuse (install untimed)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after (s)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gistcad-first-start-"))
    clone, data, port = work / "gistcad", work / "data", free_port()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    if args.venv is not None:
        (clone / ".venv").symlink_to(args.venv.resolve())
    env = {**os.environ, "GISTCAD_DATA_DIR": str(data), "PORT": str(port)}
    for name in ("GISTCAD_DB_URL", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    if args.venv is not None:  # its gistcad may be installed from elsewhere: use the clone's
        env["PYTHONPATH"] = str(clone)
    print(f"clone {clone}, data {data}, port {port}; {load()}")
    log = (work / "make-run.log").open("w")
    start = time.monotonic()
    make = subprocess.Popen(
        ["make", "run", f"PORT={port}"] + (["-o", ".venv/.installed"] if args.venv else []),
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve_s = models_s = None
    try:
        while time.monotonic() - start < args.timeout and make.poll() is None:
            elapsed = time.monotonic() - start
            if serve_s is None and healthy(port):
                serve_s = elapsed
                print(f"dashboard answers after {serve_s:.0f} s; {load()}")
            if serve_s is not None:
                statuses = demo_jobs(clone, env)
                if any(s == "failed" for s in statuses.values()):
                    print(f"a demo model failed: {statuses}")
                    break
                if len(statuses) == 3 and all(s == "succeeded" for s in statuses.values()):
                    models_s = elapsed
                    print(f"three demo models registered after {models_s:.0f} s; {load()}")
                    break
            time.sleep(2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        log.close()
    if models_s is None:  # what went wrong: the end of make run's output
        print((work / "make-run.log").read_text()[-3000:])
    for what, seconds, budget in (
        ("dashboard answering", serve_s, SERVE_BUDGET_S),
        ("three demo models ready", models_s, MODELS_BUDGET_S),
    ):
        shown = "not reached" if seconds is None else f"{seconds:.0f} s"
        ratio = "" if seconds is None else f", {seconds / budget:.2f} of the budget"
        print(f"{what}: {shown} (budget {budget:.0f} s{ratio})")
    print(load())
    shutil.rmtree(work, ignore_errors=True)  # the clone, its data (GB) and the log
    met = serve_s is not None and models_s is not None
    return 0 if met and serve_s < SERVE_BUDGET_S and models_s < MODELS_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
