"""Training one network over several processes with PyTorch's distributed data parallel.

:func:`fit_network` trains in this process (``nproc`` 1), or launches ``torchrun`` with
``nproc`` processes (``python -m torch.distributed.run --standalone``) that each run
:func:`worker_main` on the same inputs: a ``gloo`` process group on the CPU, ``nccl`` with one
GPU per process on CUDA. Each rank trains on its share of every batch and
``DistributedDataParallel`` averages the gradients (:mod:`gistcad.neural.world`); rank 0 writes
the best weights and the history, which this process reads back. Only the network's fit is
spread: the folds, the evaluation and the registration stay in the calling process, which is
the only one that talks to the database.

The inputs travel through a temporary folder (the crops as an ``.npy`` file that each rank
memory-maps), the epochs' progress through a file of JSON lines that rank 0 appends to.

Equivalence: the batches of a process group hold the same crops in the same order as alone,
split between the ranks, so an epoch makes the same number of optimiser steps on gradients
averaged over the same crops. Not bit-identical: each rank's batch-norm statistics come from
its share, the Cox term's risk sets from its share, and the augmentation draws from each
rank's own generator (tested: the same validation quality within tolerance,
``tests/neural/test_distributed.py``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist

from gistcad.errors import GistcadError, ValidationError
from gistcad.neural.fitting import EpochRecord, Progress, TrainConfig, TrainResult, train_model
from gistcad.neural.network import pick_device

logger = logging.getLogger(__name__)

#: Arrays handed to the ranks, by file name (``None`` ones are not written).
_ARRAYS = ("crops", "labels", "durations", "events", "train", "val", "covariates", "response")
_RESULT, _PROGRESS, _CONFIG, _LOG = "result.pt", "progress.jsonl", "config.json", "ranks.log"


def fit_network(
    crops: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    *,
    train_idx: npt.ArrayLike,
    val_idx: npt.ArrayLike,
    cfg: TrainConfig,
    covariates: npt.ArrayLike | None = None,
    covariate_init: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    response: npt.ArrayLike | None = None,
    progress: Progress | None = None,
    nproc: int = 1,
) -> TrainResult:
    """:func:`~gistcad.neural.fitting.train_model` in this process (``nproc`` 1) or spread
    over ``nproc`` processes started by ``torchrun`` (see the module docstring).

    Raises
    ------
    ValidationError
        For ``nproc`` < 1, or more CUDA processes than GPUs.
    GistcadError
        When a rank fails; the message ends with the ranks' last log lines.
    """
    arguments: dict[str, Any] = {
        "train_idx": train_idx,
        "val_idx": val_idx,
        "cfg": cfg,
        "covariates": covariates,
        "covariate_init": covariate_init,
        "response": response,
        "progress": progress,
    }
    if nproc == 1:
        return train_model(crops, labels, durations, events, **arguments)
    if nproc < 1:
        raise ValidationError(f"--nproc must be 1 or more processes, got {nproc}")
    if pick_device(cfg.device).type == "cuda" and nproc > torch.cuda.device_count():
        raise ValidationError(
            f"--nproc {nproc} on CUDA needs a GPU per process; PyTorch sees "
            f"{torch.cuda.device_count()}"
        )
    with tempfile.TemporaryDirectory(prefix="gistcad-ddp-") as folder:
        job = Path(folder)
        _write_inputs(
            job,
            {
                "crops": crops,
                "labels": labels,
                "durations": durations,
                "events": events,
                "train": train_idx,
                "val": val_idx,
                "covariates": covariates,
                "response": response,
                "init_weights": None if covariate_init is None else covariate_init[0],
                "init_biases": None if covariate_init is None else covariate_init[1],
            },
            cfg,
        )
        _launch(job, nproc, progress)
        saved = torch.load(job / _RESULT, weights_only=True)
    history = tuple(EpochRecord(**record) for record in saved["history"])
    return TrainResult(saved["state_dict"], history, int(saved["best_epoch"]), cfg)


def _write_inputs(job: Path, arrays: dict[str, Any], cfg: TrainConfig) -> None:
    for name, value in arrays.items():
        if value is not None:
            np.save(job / f"{name}.npy", np.asarray(value))
    (job / _CONFIG).write_text(json.dumps(cfg.to_dict()))


def _launch(job: Path, nproc: int, progress: Progress | None) -> None:
    """Run ``torchrun`` over ``job`` and relay rank 0's epochs to ``progress``."""
    threads = max(1, torch.get_num_threads() // nproc)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes=1",
        f"--nproc_per_node={nproc}",
        "-m",
        "gistcad.neural.distributed",
        str(job),
    ]
    relayed = 0
    with (job / _LOG).open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        while True:
            done = process.poll() is not None
            relayed = _relay(job / _PROGRESS, relayed, progress)
            if done:
                break
            time.sleep(0.2)
    if process.returncode != 0 or not (job / _RESULT).exists():
        errors = sorted(job.glob("error-*.txt"))
        reason = (
            errors[0].read_text()
            if errors
            else "\n".join((job / _LOG).read_text(errors="replace").strip().splitlines()[-15:])
        )
        raise GistcadError(
            f"distributed training over {nproc} processes failed (exit {process.returncode}): "
            + reason
        )


def _relay(path: Path, relayed: int, progress: Progress | None) -> int:
    """Pass the epochs recorded after the first ``relayed`` to ``progress``; how many now."""
    if not path.exists():
        return relayed
    lines = [line for line in path.read_text().splitlines() if line.endswith("}")]
    for line in lines[relayed:]:
        record = json.loads(line)
        if progress is not None:
            progress(int(record["epoch"]), int(record["epochs"]), record["metrics"])
    return len(lines)


def worker_main(job: Path) -> None:
    """One rank: join the process group, train on the job's inputs; rank 0 saves the result."""
    cfg = TrainConfig.from_dict(json.loads((job / _CONFIG).read_text()))
    cuda = pick_device(cfg.device).type == "cuda"
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        cfg = replace(cfg, device=f"cuda:{local}")
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank = dist.get_rank()
    try:
        _train_rank(job, cfg, rank)
    except Exception as error:  # the parent shows the first rank's reason, not torchrun's
        (job / f"error-{rank}.txt").write_text(f"rank {rank}: {error}")
        raise
    finally:
        dist.destroy_process_group()


def _train_rank(job: Path, cfg: TrainConfig, rank: int) -> None:
    """Train this rank's part; rank 0 saves the result."""
    arrays = {
        name: np.load(job / f"{name}.npy", mmap_mode="r" if name == "crops" else None)
        for name in (*_ARRAYS, "init_weights", "init_biases")
        if (job / f"{name}.npy").exists()
    }
    init = None
    if "init_weights" in arrays:
        init = (arrays["init_weights"], arrays["init_biases"])

    def record(epoch: int, epochs: int, metrics: dict[str, float]) -> None:
        if rank == 0:
            line = json.dumps({"epoch": epoch, "epochs": epochs, "metrics": metrics})
            with (job / _PROGRESS).open("a") as out:
                out.write(line + "\n")

    result = train_model(
        arrays["crops"],
        arrays["labels"],
        arrays["durations"],
        arrays["events"],
        train_idx=arrays["train"],
        val_idx=arrays["val"],
        cfg=cfg,
        covariates=arrays.get("covariates"),
        covariate_init=init,
        response=arrays.get("response"),
        progress=record,
    )
    if rank == 0:
        torch.save(
            {
                "state_dict": result.state_dict,
                "history": [asdict(h) for h in result.history],
                "best_epoch": result.best_epoch,
            },
            job / _RESULT,
        )
    dist.barrier()


if __name__ == "__main__":  # started by torchrun, one process per rank
    logging.basicConfig(level=logging.WARNING)
    worker_main(Path(sys.argv[1]))
