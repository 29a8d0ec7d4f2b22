"""Deep-model training alone vs spread over N processes (distributed data parallel).

Anchor: the same fit in one process (``nproc`` 1), in the same run. Trains the deep model's
network (small DenseNet with histogram, crops of 32³, or ``--crop``) on synthetic crops with a
visible class for a fixed number of epochs (no early stopping), then prints the wall time of
each run, the speed-up and both validation accuracies, so that a speed-up bought with worse
learning is visible.

    python bench/ddp_speed.py --nproc 2                      # CPU: gloo
    python bench/ddp_speed.py --nproc 4 --device cuda        # one GPU per process: NCCL

On the CPU the processes share the cores (``OMP_NUM_THREADS`` is split between them), so expect
little or no gain there; the speed-up is for machines with several GPUs. Each distributed run
also pays torchrun's start (two Python processes importing PyTorch and MONAI).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gistcad.neural.distributed import fit_network
from gistcad.neural.fitting import TrainConfig
from gistcad.neural.network import Architecture, ModelConfig


def blob_crops(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops with a bright (class 0) or dark (class 2) sphere, and the mask channel."""
    rng = np.random.default_rng(seed)
    grid = np.indices((size,) * 3, dtype=np.float32)
    labels = np.tile([0, 2], n // 2 + 1)[:n]
    crops = np.empty((n, 2, size, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        centre = (size - 1) / 2 + rng.uniform(-3, 3, 3)
        inside = ((grid - centre[:, None, None, None]) ** 2).sum(axis=0) < (0.22 * size) ** 2
        image = 0.5 + 0.1 * rng.standard_normal((size,) * 3)
        image[inside] += 0.3 if label == 0 else -0.3
        crops[i, 0], crops[i, 1] = np.clip(image, 0, 1), inside
    return crops, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--crops", type=int, default=400)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    crops, labels = blob_crops(args.crops, args.crop, seed=1)
    train, val = np.arange(int(0.8 * args.crops)), np.arange(int(0.8 * args.crops), args.crops)
    cfg = TrainConfig(
        model=ModelConfig(Architecture.DENSENET_SMALL_HISTOGRAM, crop_size=args.crop),
        epochs=args.epochs,
        patience=args.epochs,
        batch_size=8,
        device=args.device,
    )
    nan = np.full(args.crops, np.nan)
    cores = torch.get_num_threads()
    # alone with every core's thread, alone with one thread, and spread (each process gets
    # cores / nproc threads): one OpenMP team that loses a core to other work stalls at every
    # barrier, so the second anchor shows how much of a gain is only that
    runs = [("alone", 1, cores), ("alone", 1, 1), ("spread", args.nproc, cores)]
    seconds = {}
    for label, nproc, threads in runs:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        result = fit_network(
            crops, labels, nan, np.zeros(args.crops), train_idx=train, val_idx=val, cfg=cfg,
            nproc=nproc,
        )  # fmt: skip
        took = time.perf_counter() - start
        seconds[(nproc, threads)] = took
        print(
            f"{label}, {nproc} process(es), {threads} thread(s) in all: {took:.1f} s, "
            f"last-epoch val accuracy {result.history[-1].val_accuracy:.3f}"
        )
    torch.set_num_threads(cores)
    spread = seconds[(args.nproc, cores)]
    print(
        f"speed-up of {args.nproc} processes over one process with {cores} threads (anchor): "
        f"{seconds[(1, cores)] / spread:.2f}x; over one with 1 thread: "
        f"{seconds[(1, 1)] / spread:.2f}x ({args.device}, {args.crops} crops of {args.crop}³, "
        f"{args.epochs} epochs, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
