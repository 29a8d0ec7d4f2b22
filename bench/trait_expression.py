"""Benchmark: how strongly the CT's radiomics features express the planted prognostic trait.

The generator plants ``prognostic_trait_z`` as the grain of the tumour texture (README
"Planted prognostic trait"). This renders the baseline CTs of the cohort ``gistcad demo build
--patients N --seed SEED --matrix MATRIX`` (6 centers) once, as the build renders them
(:func:`gistcad.synth.build.render_baseline`), keeps each tumour's region in memory, and
computes the discovery's candidate features (:data:`gistcad.biomarkers.discovery
.CANDIDATE_SETTINGS`, whole tumour and solid part) under each asked discretisation bin width
and voxel size. Per setting it prints the best |Spearman rho| of a feature with z and the
features with the largest |rho|, and the median best |rho| over ``--permutations``
shuffles of z (what the best of as many features reaches by chance), and the best |rho| of a
feature with the patient's texture ``heterogeneity`` (the texture's amplitude). With
``--probe`` it also prints the |rho| of :func:`grain_probe`, which is not a candidate
feature: the solid tumour's in-plane HU correlation 3 and 6 mm apart and their ratio, with z
and with what else varies (heterogeneity, the center's noise SD, the slice thickness). The
survival plays no part (rho does not depend on the signal). ``--bins`` with no value computes
no candidate features.

Usage::

    PYTHONPATH=. .venv/bin/python bench/trait_expression.py --patients 120
    PYTHONPATH=. .venv/bin/python bench/trait_expression.py --patients 120 \\
        --bins 25 10 5 --voxels 1.5 1.0
    PYTHONPATH=. .venv/bin/python bench/trait_expression.py --patients 120 --probe --bins
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

#: the tumour region kept per patient: the mask's bounding box plus this margin (mm), more
#: than the features' own crop margin, so their crop of the kept region is their crop of the CT
KEEP_MARGIN_MM = 8.0


@dataclass(frozen=True)
class TumourRegion:
    """One patient's rendered tumour region: HU, mask, voxel size per axis (mm)."""

    hu: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]


def trait_correlations(features: pd.DataFrame, trait: Sequence[float]) -> pd.Series:
    """|Spearman rho| of every feature with ``trait``, largest first (features constant or
    missing in every row are left out; a row missing a feature is left out of its rho).

    Spearman's rho is Pearson's correlation of the average ranks (ties share their mean
    rank).
    """
    z = pd.Series(np.asarray(trait, dtype=float), index=features.index)
    out: dict[str, float] = {}
    for name in features.columns:
        column = features[name].astype(float)
        keep = column.notna() & z.notna()
        x, y = column[keep].rank(), z[keep].rank()
        if keep.sum() < 3 or x.std() == 0:
            continue
        out[name] = abs(float(np.corrcoef(x, y)[0, 1]))
    return pd.Series(out, dtype=float).sort_values(ascending=False)


def lag_correlation(hu: np.ndarray, inside: np.ndarray, lag: int) -> float:
    """Pearson correlation of the HU of voxel pairs ``lag`` voxels apart along rows and along
    columns (axes 1 and 2), both voxels ``inside``; NaN with fewer than 10 pairs."""
    pairs = []
    for axis in (1, 2):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(None, -lag), slice(lag, None)
        both = inside[tuple(a)] & inside[tuple(b)]
        pairs.append((hu[tuple(a)][both], hu[tuple(b)][both]))
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    if x.size < 10 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def grain_probe(
    region: TumourRegion, lags_mm: tuple[float, float] = (3.0, 6.0)
) -> dict[str, float]:
    """Not a candidate feature: how far the solid tumour's HU stay correlated, in-plane.

    The region is resampled to 1 mm voxels (as the features resample it), the solid part
    taken as mask voxels above 30 HU, eroded by one voxel. Returns the neighbour correlation
    at each lag (``grain_r3``, ``grain_r6`` for 3 and 6 mm) and their ratio
    (``grain_ratio``): scanner noise that is uncorrelated beyond the shorter lag scales both
    correlations by the same texture-to-noise variance share, which the ratio cancels.
    """
    from scipy.ndimage import binary_erosion

    from gistcad.modelling.radiomics_model import _tumour_region

    hu, mask = _tumour_region(region.hu, region.mask, np.asarray(region.spacing), 1.0)
    inside = binary_erosion(mask & (hu > 30.0))
    short, long = (lag_correlation(hu, inside, round(lag)) for lag in lags_mm)
    return {
        f"grain_r{lags_mm[0]:g}": short,
        f"grain_r{lags_mm[1]:g}": long,
        "grain_ratio": long / short if short > 0 else float("nan"),
    }


def null_best(
    features: pd.DataFrame, trait: Sequence[float], *, permutations: int, seed: int = 0
) -> float:
    """The median, over ``permutations`` shuffles of ``trait``, of the best |rho|: what the
    best feature reaches by chance among this many features and patients."""
    rng = np.random.default_rng(seed)
    z = np.asarray(trait, dtype=float)
    best = [trait_correlations(features, rng.permutation(z)).iloc[0] for _ in range(permutations)]
    return float(np.median(best))


def render_regions(
    patients: int, *, seed: int, matrix: int
) -> tuple[list[TumourRegion], np.ndarray, pd.DataFrame]:
    """The build's baseline tumour regions, their planted z, and per patient what varies
    besides z: ``heterogeneity`` (texture SD / 22 HU), the center's ``noise_sd_hu`` and the
    ``slice_mm``."""
    from gistcad.synth.build import BuildOptions, draw_build_cohort, render_baseline

    options = BuildOptions(
        out=Path("unused"), patients=patients, centers=6, seed=seed, matrix=matrix
    )
    drawn, profiles = draw_build_cohort(options)
    regions = []
    for record in drawn.to_dict(orient="records"):
        ct = render_baseline(
            record,
            profiles[str(record["center"])],
            seed=seed,
            matrix=matrix,
            scan_length_mm=options.scan_length_mm,
        )
        spacing = (ct.slice_thickness_mm, *ct.pixel_spacing_mm)
        idx = np.argwhere(ct.tumour_mask)
        margin = np.ceil(KEEP_MARGIN_MM / np.asarray(spacing)).astype(int)
        low = np.maximum(idx.min(axis=0) - margin, 0)
        high = np.minimum(idx.max(axis=0) + margin + 1, ct.tumour_mask.shape)
        box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        regions.append(TumourRegion(ct.hu[box].copy(), ct.tumour_mask[box].copy(), spacing))
    nuisance = pd.DataFrame(
        {
            "heterogeneity": drawn["heterogeneity"].to_numpy(dtype=float),
            "noise_sd_hu": [profiles[str(c)].noise_sd_hu for c in drawn["center"]],
            "slice_mm": [r.spacing[0] for r in regions],
        }
    )
    return regions, drawn["prognostic_trait_z"].to_numpy(dtype=float), nuisance


def features_under(regions: Sequence[TumourRegion], bin_hu: float, voxel_mm: float) -> pd.DataFrame:
    """The candidate features of every region with the bin width and voxel size replaced."""
    from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
    from gistcad.modelling.radiomics_model import tumour_features

    settings = replace(CANDIDATE_SETTINGS, bin_width_hu=bin_hu, voxel_mm=voxel_mm)
    # a tumour with no voxel in the re-segmentation range has none: an all-missing row
    rows = [tumour_features(r.hu, r.mask, r.spacing, settings) or {} for r in regions]
    return pd.DataFrame(rows).astype(float)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--bins", type=float, nargs="*", default=[25.0, 10.0, 5.0])
    parser.add_argument("--voxels", type=float, nargs="+", default=[1.5])
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--permutations", type=int, default=20)
    parser.add_argument(
        "--probe", action="store_true", help="also the in-plane grain probe (not a candidate)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    regions, trait, nuisance = render_regions(args.patients, seed=args.seed, matrix=args.matrix)
    print(f"rendered {len(regions)} tumours in {time.perf_counter() - start:.0f} s")
    thickness = pd.Series([r.spacing[0] for r in regions]).round(2).value_counts().sort_index()
    print("slice thickness (mm): patients", thickness.to_dict())
    if args.probe:
        probe = pd.DataFrame([grain_probe(r) for r in regions])
        rho = trait_correlations(probe, trait)
        print("grain probe |rho| with z:", ", ".join(f"{n} {r:.2f}" for n, r in rho.items()))
        for name in nuisance.columns:
            rho = trait_correlations(probe, nuisance[name].to_numpy())
            print(
                f"grain probe |rho| with {name}:", ", ".join(f"{n} {r:.2f}" for n, r in rho.items())
            )
    for voxel in args.voxels:
        for bin_hu in args.bins:
            start = time.perf_counter()
            features = features_under(regions, bin_hu, voxel)
            rho = trait_correlations(features, trait)
            null = null_best(features, trait, permutations=args.permutations)
            top = ", ".join(f"{n} {r:.2f}" for n, r in rho.head(args.top).items())
            amplitude = trait_correlations(features, nuisance["heterogeneity"].to_numpy())
            top += (
                f"; best |rho| with heterogeneity {amplitude.iloc[0]:.2f} "
                f"({amplitude.index[0]}), features above 0.5: {(amplitude > 0.5).sum()}"
            )
            print(
                f"voxel {voxel:g} mm, bin {bin_hu:g} HU: best |rho| {rho.iloc[0]:.2f} "
                f"(by chance {null:.2f}; "
                f"{len(rho)} features, {len(regions)} patients, "
                f"{time.perf_counter() - start:.0f} s); top: {top}"
            )


if __name__ == "__main__":
    main()
