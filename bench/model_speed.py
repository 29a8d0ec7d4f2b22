"""Benchmark: the genotype-and-risk network's speed against its targets.

Targets (issue "Genotype and risk models"):
- one case, including preprocessing (read the canonical NIfTI, crop, resample, forward),
  in under 0.5 s;
- 1,400 cases in under 10 minutes.
Also measured: every candidate network at batch 1 and the training time of one epoch on 200
crops. ``--architecture`` picks the network of the per-case, cohort and training timings
(default: the deep model's, :class:`gistcad.modelling.dl_model.DlSettings`).

Cases are synthetic portal-venous CTs rendered by :mod:`gistcad.synth.phantom` at a 512 matrix
(the Lyon profile: 0.74 mm pixels, 2.5 mm slices), written as canonical NIfTI and read back
memory-mapped, as the registry serves them. Timings are warm medians. The load average is
printed at start and end: on a shared machine other processes inflate every number.

Usage::

    .venv/bin/python bench/model_speed.py               # everything (~3–5 min on 2 idle cores)
    .venv/bin/python bench/model_speed.py --train-crops 0   # skip the training epoch
    .venv/bin/python bench/model_speed.py --architecture efficientnet-b0 --size 64
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gistcad.imaging.nifti_io import read_nifti, write_canonical
from gistcad.imaging.volume import Volume, lps_to_ras
from gistcad.modelling.dl_model import DlSettings
from gistcad.neural.crop import CropSettings, tumour_crop
from gistcad.neural.fitting import TrainConfig, train_model
from gistcad.neural.inference import predict
from gistcad.neural.network import Architecture, ModelConfig, build_model
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.phantom import render_ct

CASE_BUDGET_S = 0.5
COHORT = 1400
COHORT_BUDGET_S = 600.0


def median_seconds(run: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_case(folder: Path, size_cm: float, seed: int) -> tuple[Path, Path]:
    """Render a gastric GIST of ``size_cm`` and write image and mask as canonical NIfTI."""
    record = {
        "site": "stomach", "sub_site": "body", "sex": "female", "size_cm": size_cm,
        "enhancement_hu": 60.0, "heterogeneity": 0.3, "necrosis_fraction": 0.1,
        "lobulation": 0.3, "exophytic": False, "calcification": False,
    }  # fmt: skip
    center = next(c for c in DEFAULT_CENTERS if c.name == "Lyon")
    ct = render_ct(record, center, matrix=512, rng=np.random.default_rng(seed))
    affine = lps_to_ras(ct.affine_lps)
    image = Volume(np.ascontiguousarray(ct.hu.transpose(2, 1, 0)), affine)
    mask = Volume(np.ascontiguousarray(ct.tumour_mask.transpose(2, 1, 0)).astype(np.uint8), affine)
    paths = folder / f"ct_{size_cm:g}cm.nii", folder / f"mask_{size_cm:g}cm.nii"
    write_canonical(image, paths[0])
    write_canonical(mask, paths[1])
    return paths


def bench_architectures(size: int, repeats: int, rounds: int = 3) -> None:
    """Every candidate, alternating in ``rounds`` so that a burst of load hits all alike."""
    x = torch.randn(1, 2, size, size, size)
    times: dict[Architecture, list[float]] = {a: [] for a in Architecture}
    models = {a: build_model(ModelConfig(architecture=a, crop_size=size)).eval() for a in times}
    for _ in range(rounds):
        for architecture, model in models.items():

            def forward(model: torch.nn.Module = model) -> None:
                with torch.inference_mode():
                    model(x)

            times[architecture].append(median_seconds(forward, repeats))
    for architecture, values in times.items():
        print(
            f"  {architecture:16s} batch 1, {size}³: median of rounds "
            f"{1000 * statistics.median(values):7.1f} ms, best round {1000 * min(values):7.1f} ms "
            "per crop"
        )


def bench_cases(
    folder: Path, model: torch.nn.Module, settings: CropSettings, repeats: int
) -> float:
    """Worst median preprocessing seconds per case over two tumour sizes (prints both)."""
    worst_prep = 0.0
    for size_cm in (5.6, 18.0):  # median and 95th percentile diameter of the synthetic cohort
        image_path, mask_path = write_case(folder, size_cm, seed=int(size_cm * 10))

        def preprocess(image_path: Path = image_path, mask_path: Path = mask_path) -> np.ndarray:
            crop = tumour_crop(read_nifti(image_path), read_nifti(mask_path), settings)
            return crop.array[None]

        def case(preprocess: Callable[[], np.ndarray] = preprocess) -> None:
            predict(model, preprocess())

        prep = median_seconds(preprocess, repeats)
        total = median_seconds(case, repeats)
        shape = read_nifti(image_path).shape
        print(
            f"  {size_cm:4.1f} cm tumour, CT {shape[0]}×{shape[1]}×{shape[2]}: preprocessing "
            f"{prep:.3f} s, with forward {total:.3f} s per case "
            f"→ {total / CASE_BUDGET_S:.2f} × the {CASE_BUDGET_S} s budget"
        )
        worst_prep = max(worst_prep, prep)
    return worst_prep


def bench_cohort(model: torch.nn.Module, size: int, per_case_prep: float, batch: int) -> None:
    crops = np.random.default_rng(0).random((batch, 2, size, size, size), dtype=np.float32)
    forward = median_seconds(lambda: predict(model, crops, batch_size=8), repeats=3, warmup=1)
    per_crop = forward / batch
    total = COHORT * (per_case_prep + per_crop)
    print(
        f"  forward, batch of {batch} (in 8s): {per_crop * 1000:.1f} ms per crop; with "
        f"{per_case_prep:.3f} s preprocessing per case, {COHORT} cases ≈ {total:.0f} s "
        f"→ {total / COHORT_BUDGET_S:.2f} × the {COHORT_BUDGET_S:.0f} s budget"
    )


def bench_training(n: int, size: int, architecture: Architecture) -> None:
    rng = np.random.default_rng(0)
    crops = rng.random((n, 2, size, size, size), dtype=np.float32)
    labels = rng.integers(0, 4, n)
    durations, events = rng.uniform(1, 120, n), (rng.random(n) < 0.3).astype(float)
    cfg = TrainConfig(
        model=ModelConfig(architecture=architecture, crop_size=size), epochs=1, batch_size=8
    )
    start = time.perf_counter()
    train_model(
        crops, labels, durations, events, train_idx=np.arange(n), val_idx=np.arange(0), cfg=cfg
    )
    seconds = time.perf_counter() - start
    print(
        f"  one epoch, {n} crops at {size}³ (augmentation, AdamW, batch 8, precise BN): "
        f"{seconds:.1f} s ({seconds / n * 1000:.0f} ms per crop)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=64, help="crop size (voxels per side)")
    parser.add_argument(
        "--architecture",
        type=Architecture,
        choices=list(Architecture),
        default=DlSettings().architecture,
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32, help="crops in the throughput batch")
    parser.add_argument("--train-crops", type=int, default=200, help="0 skips training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()}")
    print("Ratios are measured / target: below 1 is within target.")

    print("Candidate networks (warm median):")
    bench_architectures(args.size, args.repeats)

    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture=args.architecture, crop_size=args.size)).eval()
    settings = CropSettings(size=args.size)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Per case, read + crop + resample + forward ({args.architecture}, warm median):")
        prep = bench_cases(Path(tmp), model, settings, args.repeats)
    print(f"Cohort of {COHORT} (the slower case's preprocessing for every case):")
    bench_cohort(model, args.size, prep, args.batch)
    if args.train_crops:
        print("Training:")
        bench_training(args.train_crops, args.size, args.architecture)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
