"""Benchmark: building the synthetic cohort against its budget and against a raw-write floor.

Target (synthetic cohort issue): 200 patients at --matrix 256 in under 2 minutes on 2 cores.

Anchors, measured in the same run:
- the 120-second budget (ratio < 1 means within target);
- a raw-write floor: writing the same number of bytes the build produced, as plain files
  with no rendering or DICOM encoding (ratio = how much slower than the disk alone).

Usage::

    .venv/bin/python bench/synth_build.py                 # 200 patients
    .venv/bin/python bench/synth_build.py --patients 1400 # the study's size
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from gistcad.synth.build import BuildOptions, build_cohort

BUDGET_S_PER_200 = 120.0


def raw_write_floor(total_bytes: int, files: int, folder: Path) -> float:
    """Seconds to write ``total_bytes`` as ``files`` plain files (fsync'ed at the end)."""
    chunk = os.urandom(1 << 20)
    per_file = max(total_bytes // max(files, 1), 1)
    start = time.perf_counter()
    for i in range(files):
        with open(folder / f"f{i}", "wb") as handle:
            remaining = per_file
            while remaining > 0:
                n = min(remaining, len(chunk))
                handle.write(chunk[:n])
                remaining -= n
    os.sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gistcad-bench-"))
    try:
        out = work / "cohort"
        start = time.perf_counter()
        summary = build_cohort(
            BuildOptions(out=out, patients=args.patients, matrix=args.matrix, workers=args.workers)
        )
        os.sync()
        build_s = time.perf_counter() - start
        sizes = [p.stat().st_size for p in out.rglob("*") if p.is_file()]
        total = sum(sizes)
        shutil.rmtree(out)
        floor_dir = work / "floor"
        floor_dir.mkdir()
        floor_s = raw_write_floor(total, len(sizes), floor_dir)
        budget = BUDGET_S_PER_200 * args.patients / 200
        print(
            f"patients {args.patients}, matrix {args.matrix}, workers {args.workers}, "
            f"cores {os.cpu_count()}"
        )
        print(
            f"build: {build_s:.1f} s ({build_s / args.patients:.3f} s/patient), "
            f"{len(sizes)} files, {total / 1e9:.2f} GB"
        )
        print(f"anchor budget {budget:.0f} s: ratio {build_s / budget:.2f} (< 1 meets the target)")
        print(f"anchor raw write of the same bytes {floor_s:.1f} s: ratio {build_s / floor_s:.1f}")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"peak memory: main process {own:.0f} MB, largest worker {workers:.0f} MB "
            "(does not grow with --patients: images are written one patient at a time)"
        )
        print(f"ceilings: {summary.ceilings}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
