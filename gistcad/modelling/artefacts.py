"""Trained models on disk: written once with their sha256, loaded only if the sha256 matches.

Scikit-learn models are stored with joblib (a pickle): loading a pickle runs code, which is
why a file is opened only after its checksum equals the one the registry recorded when the
model was trained.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path
from typing import Any

import joblib

from gistcad.errors import ValidationError
from gistcad.layout import DataLayout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir(data_dir: Path, name: str) -> Path:
    """A new, empty folder for one training run's files:
    ``<data folder>/models/<name>/<UTC time>-<random>/``.

    Every run gets its own folder, so a run that fails (or loses a race for the name) never
    overwrites the files of a registered version; the registry stores each version's path.
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    folder = DataLayout(data_dir).models / name / f"{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def save_sklearn(model: Any, path: Path) -> str:
    """Write ``model`` with joblib; returns the file's sha256."""
    joblib.dump(model, path)
    return sha256_of(path)


def verify(path: Path, expected_sha256: str) -> None:
    """Refuse a missing file or one whose sha256 differs from the registry's."""
    if not path.is_file():
        raise ValidationError(f"the model file {path} is missing; train the model again")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ValidationError(
            f"the model file {path} has sha256 {actual}, but the registry recorded "
            f"{expected_sha256}: it was changed or damaged, so it is not loaded"
        )


def load_sklearn(path: Path, expected_sha256: str) -> Any:
    """Load a joblib model after checking its sha256."""
    verify(path, expected_sha256)
    return joblib.load(path)
