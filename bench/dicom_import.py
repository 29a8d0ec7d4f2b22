"""Benchmark: DICOM series → canonical NIfTI, gistcad against dcm2niix and SimpleITK.

Target (DICOM import issue): gistcad's conversion at least as fast as dcm2niix writing
uncompressed NIfTI, on the same series, in the same run.

The series is a realistic axial CT written by gistcad's own synthetic generator: the first
default center (SIEMENS habits: uint16 storage, RescaleIntercept −1024, 1 mm slices), matrix
512, 200 mm → 512 × 512 × 200 slices, one explicit-VR little-endian file per slice.

Each tool converts the whole folder to one uncompressed ``.nii``: one warm-up run each, then 5
rounds of one timed run per tool (interleaved, so that other load on a shared machine falls on
all three alike):

- gistcad: ``scan_dicom(folder)`` + ``load_series(series)`` + ``write_canonical(volume, path)``,
  in this process (import time excluded, every header and pixel read again each run; it also
  validates the series and computes the file's sha256, which the others do not);
- dcm2niix (Debian package): ``dcm2niix -z n -b n -o OUT -f out FOLDER``, a subprocess
  (its start-up counts: that is how it is used);
- SimpleITK: ``ImageSeriesReader`` (``GetGDCMSeriesFileNames`` + ``Execute``) +
  ``WriteImage(img, "x.nii")``, in this process.

Files are in the page cache for every run (the warm-up reads them), so this measures parsing,
decoding and writing, not the disk. MB/s is the size of the DICOM files read per second.
Ratios are gistcad's time over the anchor's (< 1: gistcad is faster). The three outputs are
checked to hold the same volume: reoriented to RAS+ (nibabel ``as_closest_canonical``), the
Hounsfield values must be identical voxel for voxel and the spacing equal.

Usage::

    .venv/bin/pip install -r bench/requirements.txt   # SimpleITK, bench only
    .venv/bin/python bench/dicom_import.py
    .venv/bin/python bench/dicom_import.py --matrix 256 --length 100 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from gistcad.imaging import load_series, scan_dicom, write_canonical
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.ct_export import derive_uid, write_ct_series
from gistcad.synth.phantom import render_ct

DCM2NIIX = "dcm2niix"
#: A clinical row like the synthetic tests' (FAKE identifying data).
RECORD = {
    "hospital_id": "ROT-000042",
    "patient_name": "JANSEN^Pieter",
    "birth_date": date(1961, 5, 2),
    "sex": "male",
    "age_years": 60,
    "center": "Rotterdam",
    "site": "stomach",
    "sub_site": "body",
    "size_cm": 6.0,
    "surgery_date": date(2021, 6, 1),
    "enhancement_hu": 55.0,
    "heterogeneity": 0.5,
    "necrosis_fraction": 0.2,
    "lobulation": 0.4,
    "exophytic": False,
    "calcification": False,
}


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of the timed runs of one tool, and the file it wrote."""

    name: str
    seconds: list[float]
    output: Path

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def build_series(folder: Path, matrix: int, length_mm: float) -> list[Path]:
    """Render the phantom and write it as the first default center's CT series."""
    center = replace(DEFAULT_CENTERS[0])
    ct = render_ct(
        RECORD, center, matrix=matrix, rng=np.random.default_rng(7), scan_length_mm=length_mm
    )
    return write_ct_series(
        ct,
        RECORD,
        center,
        folder,
        study_uid=derive_uid("bench", "study"),
        series_uid=derive_uid("bench", "series"),
        frame_of_reference_uid=derive_uid("bench", "for"),
        uid_root_entropy="bench",
        study_date=date(2021, 5, 3),
    )


def run_gistcad(folder: Path, out: Path) -> Path:
    scan = scan_dicom(folder)
    if len(scan.series) != 1:
        raise SystemExit(f"gistcad found {len(scan.series)} series: {scan.problems}")
    target = out / "out.nii"
    write_canonical(load_series(scan.series[0]), target)
    return target


def run_dcm2niix(folder: Path, out: Path) -> Path:
    subprocess.run(
        [DCM2NIIX, "-z", "n", "-b", "n", "-o", str(out), "-f", "out", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out / "out.nii"


def run_simpleitk(folder: Path, out: Path) -> Path:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    target = out / "x.nii"
    sitk.WriteImage(reader.Execute(), str(target))
    return target


def time_tools(
    tools: dict[str, Callable[[Path, Path], Path]], folder: Path, work: Path, repeats: int
) -> list[Timing]:
    """One warm-up each (its output kept), then ``repeats`` rounds of one timed run per tool.

    Rounds interleave the tools so that load from other processes on a shared machine falls
    on all of them alike. Each run writes into a fresh folder, removed after it (untimed).
    """
    outputs = {}
    for name, convert in tools.items():
        warm_up = work / f"{name}-warm-up"
        warm_up.mkdir()
        outputs[name] = convert(folder, warm_up)
    seconds: dict[str, list[float]] = {name: [] for name in tools}
    for run in range(repeats):
        for name, convert in tools.items():
            out = work / f"{name}-{run}"
            out.mkdir()
            start = time.perf_counter()
            convert(folder, out)
            seconds[name].append(time.perf_counter() - start)
            shutil.rmtree(out)
    return [Timing(name, seconds[name], outputs[name]) for name in tools]


def ras_volume(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The file's Hounsfield values reoriented to RAS+, and its spacing (mm)."""
    image = nib.as_closest_canonical(nib.load(path))
    values = np.asarray(image.dataobj, dtype=np.float64)
    return values, np.asarray(image.header.get_zooms()[:3], dtype=np.float64)


def agreement(timings: list[Timing]) -> list[str]:
    """One line per tool comparing its volume with gistcad's; raise if they differ."""
    reference, ref_spacing = ras_volume(timings[0].output)
    lines = []
    for timing in timings:
        values, spacing = ras_volume(timing.output)
        same = values.shape == reference.shape and np.array_equal(values, reference)
        close = np.allclose(spacing, ref_spacing, atol=1e-4)
        lines.append(
            f"  {timing.name:<10} shape {values.shape}, spacing {np.round(spacing, 4).tolist()}"
            f" mm, sum {values.sum():.0f} HU, min {values.min():.0f}, max {values.max():.0f}:"
            f" {'identical to gistcad' if same and close else 'DIFFERS from gistcad'}"
        )
        if not (same and close):
            raise SystemExit("\n".join(lines) + "\nthe outputs differ; the comparison is void")
    return lines


def report(timings: list[Timing], input_bytes: int, files: int, shape: tuple[int, ...]) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"series: {files} files, {input_bytes / 1e6:.1f} MB, volume {shape}; "
        f"cores: {os.cpu_count()} (usable {affinity}); load average {os.getloadavg()[0]:.1f}; "
        f"{len(timings[0].seconds)} interleaved rounds after a warm-up, files in page cache"
    )
    print(f"{'tool':<10} {'best s':>8} {'median s':>9} {'MB/s (best)':>12}")
    for t in timings:
        print(f"{t.name:<10} {t.best:8.3f} {t.median:9.3f} {input_bytes / 1e6 / t.best:12.0f}")
    gistcad = timings[0]
    for anchor in timings[1:]:
        print(
            f"ratio gistcad/{anchor.name}: best {gistcad.best / anchor.best:.2f}, "
            f"median {gistcad.median / anchor.median:.2f} (< 1: gistcad faster)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--length", type=float, default=200.0, help="scan length, mm")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if shutil.which(DCM2NIIX) is None:
        raise SystemExit("dcm2niix not found; install it: apt-get install dcm2niix")
    work = Path(tempfile.mkdtemp(prefix="gistcad-bench-dicom-"))
    try:
        folder = work / "series"
        paths = build_series(folder, args.matrix, args.length)
        input_bytes = sum(p.stat().st_size for p in paths)
        tools = {"gistcad": run_gistcad, "dcm2niix": run_dcm2niix, "SimpleITK": run_simpleitk}
        timings = time_tools(tools, folder, work, args.repeats)
        report(timings, input_bytes, len(paths), nib.load(timings[0].output).shape)
        print("outputs (reoriented to RAS+):")
        print("\n".join(agreement(timings)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
