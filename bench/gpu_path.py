"""The deep model's GPU path: float32 against mixed precision, batches read in this process
against data-loader workers, on the same crops, seed and epochs.

Anchor: float32 with the batches read between steps (``--precision fp32``,
``--loader-workers 0``, the defaults of ``gistcad train``), in the same run. Trains the deep
model's network (small DenseNet with histogram, crops of 32³, or ``--crop``) on synthetic crops
with a visible class (``bench/ddp_speed.py``'s) read from a memory map as ``gistcad train``
reads its crop cache, for a fixed number of epochs (no early stopping), and prints for every
setting its wall time, its speed-up over the anchor, its last-epoch validation accuracy and
loss, and how far its weights and batch-norm statistics are from the anchor's (the largest
absolute difference):

- ``fp32, N workers``: must give the anchor's weights bit for bit on the CPU (the workers read,
  this process draws the batches and the augmentation); on CUDA they agree to rounding
  (``grid_sample``'s backward adds with atomics);
- ``bf16`` and ``fp16``: other weights (rounding), the accuracy should match the anchor's.

    python bench/gpu_path.py --device cuda                   # on a GPU: fp32, bf16, fp16
    python bench/gpu_path.py --device cpu --crops 80         # the CPU: fp32 and bf16

``fp16`` runs on CUDA only (refused on the CPU, so left out there). Mixed precision pays on
GPUs with tensor cores (bfloat16 on Ampere and later); on a CPU without bfloat16 instructions
it is slower than float32, which the ratio shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ddp_speed import blob_crops  # after the path: run as a script
from gistcad.domain import Precision
from gistcad.neural.fitting import TrainConfig, TrainResult, train_model
from gistcad.neural.network import Architecture, ModelConfig, pick_device


def settings(device: torch.device, workers: int) -> list[tuple[str, Precision, int]]:
    """The runs: the anchor first, then the loader workers, then mixed precision."""
    runs = [
        ("fp32, anchor", Precision.FP32, 0),
        (f"fp32, {workers} workers", Precision.FP32, workers),
    ]
    runs.append((f"bf16, {workers} workers", Precision.BF16, workers))
    if device.type == "cuda":
        runs.append((f"fp16, {workers} workers", Precision.FP16, workers))
    return runs


def weight_distance(a: TrainResult, b: TrainResult) -> float:
    """The largest absolute difference of any floating-point weight or buffer."""
    return max(
        float((a.state_dict[k].float() - v.float()).abs().max())
        for k, v in b.state_dict.items()
        if v.is_floating_point()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=400)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="data-loader processes")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args()
    device = pick_device(args.device)
    crops, labels = blob_crops(args.crops, args.crop, seed=1)
    train = np.arange(int(0.8 * args.crops))
    val = np.arange(int(0.8 * args.crops), args.crops)
    base = TrainConfig(
        model=ModelConfig(Architecture.DENSENET_SMALL_HISTOGRAM, crop_size=args.crop),
        epochs=args.epochs,
        patience=args.epochs,
        batch_size=args.batch,
        device=device.type,
    )
    nan = np.full(args.crops, np.nan)
    results: dict[str, TrainResult] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gistcad-gpu-path-") as folder:
        mapped = np.lib.format.open_memmap(
            Path(folder) / "crops.npy", "w+", np.float32, crops.shape
        )
        mapped[:] = crops
        mapped.flush()
        # warm-up, untimed: the CUDA context, cuDNN's and oneDNN's first kernels
        train_model(mapped, labels, nan, np.zeros(args.crops), train_idx=train[: 4 * args.batch],
                    val_idx=val[:8], cfg=replace(base, epochs=1))  # fmt: skip
        for label, precision, workers in settings(device, args.workers):
            cfg = replace(base, precision=precision, loader_workers=workers)
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            result = train_model(
                mapped, labels, nan, np.zeros(args.crops), train_idx=train, val_idx=val, cfg=cfg
            )
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[label] = time.perf_counter() - start
            results[label] = result
    anchor = next(iter(results))
    for label, result in results.items():
        last = result.history[-1]
        print(
            f"{label:18s} {seconds[label]:7.1f} s  speed-up over the anchor "
            f"{seconds[anchor] / seconds[label]:.2f}x  val accuracy {last.val_accuracy:.3f}  "
            f"val loss {last.val_loss:.4f}  state from the anchor's "
            f"{weight_distance(results[anchor], result):.2e}"
        )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"({name}, {args.crops} crops of {args.crop}³, batch {args.batch}, {args.epochs} epochs, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
