"""Benchmark: IBSI radiomics extraction of one tumour box against its 1 s target.

Target (radiomics issue): every feature family of a tumour's box in well under a second, so
that a cohort's features are minutes, not hours. Anchor in the same run: the intensity
statistics family alone (one pass over the ROI's voxels), the cheapest thing extraction does;
the ratio says what the texture matrices cost on top of it.

The box is 60 × 60 × 40 voxels of CT-like soft tissue (HU, 0.8 × 0.8 × 2.5 mm) with an
ellipsoidal ROI of about 50,000 voxels, the size of a 4–5 cm tumour; best of ``--repeats``.

Usage::

    .venv/bin/python bench/feature_speed.py
    .venv/bin/python bench/feature_speed.py --repeats 10
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np

from gistcad.features.extract import extract_features
from gistcad.features.settings import Family, FeatureSettings

TARGET_S = 1.0
SPACING = (0.8, 0.8, 2.5)


def tumour_box(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CT-like soft tissue with an ellipsoidal ROI (the same box the feature tests use)."""
    rng = np.random.default_rng(seed)
    i, j, k = np.mgrid[:60, :60, :40]
    image = 40.0 + 30.0 * rng.standard_normal((60, 60, 40)) + 25.0 * np.sin(i / 5.0)
    roi = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 20) * 1.5) ** 2 < 28**2
    return image, roi


def best_of(repeats: int, settings: FeatureSettings) -> tuple[float, int]:
    image, roi = tumour_box()
    timings, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = len(extract_features(image, roi, SPACING, settings))
        timings.append(time.perf_counter() - start)
    return min(timings), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    everything = FeatureSettings.ct(25.0, (-100.0, 400.0))
    anchor = dataclasses.replace(everything, families=frozenset({Family.STATISTICS}))
    anchor_s, anchor_n = best_of(args.repeats, anchor)
    full_s, full_n = best_of(args.repeats, everything)
    print(f"anchor: intensity statistics only ({anchor_n} features): {anchor_s:.3f} s")
    print(f"every family ({full_n} features): {full_s:.3f} s")
    print(f"ratio every family / anchor: {full_s / anchor_s:.1f}x")
    print(f"every family / target {TARGET_S:.0f} s: {full_s / TARGET_S:.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
