"""How far a training job is and how long it has left, from the messages it reports.

Training reports steps as text ("fold 2/5 (fold 2)", "radiomics features 40/180",
"epoch 3/12 val loss 0.91", "final model on all patients"). :class:`TrainingProgress` turns
them into a fraction: cross-validation's K folds and the final fit are K + 1 equal stages, and
a counted step inside a stage ("i/n") moves through that stage. A deep model first reads its
crops (the first 30 % of a stage), then trains epochs (the rest). :func:`seconds_left`
extrapolates the time left from the elapsed time and the fraction done;
:func:`parameters_text` and :func:`time_left_text` are what the Jobs page shows of a job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_FOLD = re.compile(r"^fold (\d+)/(\d+)\b")
#: a message that counts its steps ("crops 51/400")
COUNTED = re.compile(r"(\d+)/(\d+)")
_FINAL = "final model"
#: share of a stage a deep model spends reading crops before its epochs
CROPS_SHARE = 0.3
#: a job is never shown as done before it is (predicting and saving still follow)
MAX_RUNNING = 0.99


@dataclass
class TrainingProgress:
    """The fraction done of one training run, updated message by message.

    Parameters
    ----------
    epochs
        True for a model trained in epochs (the deep model): counted steps other than
        epochs fill only the first :data:`CROPS_SHARE` of a stage.
    """

    epochs: bool = False
    stage: int = 0
    stages: int | None = None
    inner: float = 0.0
    fraction: float = field(default=0.0, init=False)

    def update(self, message: str) -> float | None:
        """Take one message; returns the fraction done (0-1), or None when none is known yet.

        The fraction never goes back.
        """
        fold = _FOLD.match(message)
        if fold:
            self.stage, self.stages, self.inner = int(fold[1]) - 1, int(fold[2]) + 1, 0.0
        elif message.startswith(_FINAL) and self.stages is not None:
            self.stage, self.inner = self.stages - 1, 0.0
        elif (count := COUNTED.search(message)) and int(count[2]) > 0:
            done = min(int(count[1]) / int(count[2]), 1.0)
            if self.epochs:
                is_epoch = message.startswith("epoch")
                done = CROPS_SHARE + (1 - CROPS_SHARE) * done if is_epoch else CROPS_SHARE * done
            self.inner = max(self.inner, done)
        if self.stages is None:
            return None
        now = (self.stage + self.inner) / self.stages
        self.fraction = min(max(self.fraction, now), MAX_RUNNING)
        return self.fraction


def seconds_left(elapsed_s: float, fraction: float) -> float | None:
    """Time left, in seconds, at a constant rate: ``elapsed * (1 - f) / f``.

    None when nothing is done yet (no rate to extrapolate); 0 when all is done.

    >>> seconds_left(60.0, 0.25)
    180.0
    """
    if fraction <= 0 or elapsed_s < 0:
        return None
    return max(elapsed_s * (1 - min(fraction, 1.0)) / fraction, 0.0)


def describe_time_left(seconds: float | None) -> str:
    """Time left in words: "about 3 min left", "less than a minute left", "" when unknown.

    >>> describe_time_left(125)
    'about 2 min left'
    """
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    return f"about {round(seconds / 60)} min left"


#: parameters never shown: which process runs the job, and who asked to cancel it
_HIDDEN = frozenset({"pid", "host", "process", "cancel_requested_by"})
#: how a parameter is named on the Jobs page
_PARAMETER_NAMES = {
    "model_version_id": "model version",
    "folds_from": "folds of",
    "predict_all": "then predict all",
    "restart_of": "restart of job",
    "ensemble": "networks in the ensemble",
    "tta": "test-time views",
    "crop_mm": "crop spacing (mm)",
    "radiomics": "radiomics model",
    "winsorise": "winsorised share per tail",
}


def _value_labels() -> dict[str, Mapping[str, str]]:
    """How a coded parameter's value is printed, by parameter name."""
    from gistcad.analysis.prediction_source import VALIDATION_LABELS  # pandas: only here
    from gistcad.domain import MODEL_KIND_LABELS, MODEL_TARGET_LABELS, Endpoint
    from gistcad.modelling.request import CROP_LABELS, RADIOMICS_LABELS

    return {
        "target": MODEL_TARGET_LABELS,
        "kind": {str(k): v for k, v in MODEL_KIND_LABELS.items()},
        "scheme": VALIDATION_LABELS,
        "endpoint": {e.value: e.label for e in Endpoint},  # a discovery job's
        "harmonise": {"none": "none", "combat": "ComBat per center"},
        "crop": CROP_LABELS,  # the deep model's
        "radiomics": RADIOMICS_LABELS,  # the radiomics model's pipeline
    }


def parameters_text(parameters: Mapping[str, Any]) -> str:
    """A job's parameters in one short line: lists as their length ("12 patients").

    >>> parameters_text({"model_version_id": 3, "pseudonyms": ["P-001", "P-002"], "pid": 9})
    'model version 3, 2 patients'
    >>> parameters_text({"model_version_id": 3, "pseudonyms": None})
    'model version 3, all patients in scope'
    >>> parameters_text({"model_version_id": 3, "pseudonyms": None, "centers": ["Lyon", "Milan"]})
    'model version 3, the patients of Lyon and Milan'
    >>> parameters_text({"kind": "clinical", "target": "choi_pr_fu1", "scheme": "kfold"})
    'kind Clinical, target Choi response at the first follow-up CT, scheme k-fold cross-validation'
    """
    labels = _value_labels()
    parts = []
    centers = parameters.get("centers")
    for key, value in parameters.items():
        if key in _HIDDEN:
            continue
        if key == "pseudonyms":
            n = len(value) if isinstance(value, list) else None
            if n is not None:
                parts.append(_count(n, "patient"))
            elif not centers:
                parts.append("all patients in scope")
        elif key == "centers" and isinstance(value, list) and value:
            named = ", ".join(value[:-1]) + " and " + value[-1] if len(value) > 1 else value[0]
            parts.append(f"the patients of {named}")
        elif value is None or value is False:
            continue
        elif isinstance(value, list | tuple | dict):
            parts.append(f"{key.replace('_', ' ')}: {_count(len(value), 'item')}")
        elif value is True:
            parts.append(_PARAMETER_NAMES.get(key, key.replace("_", " ")))
        else:
            shown = labels.get(key, {}).get(str(value), value)
            parts.append(f"{_PARAMETER_NAMES.get(key, key.replace('_', ' '))} {shown}")
    return ", ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def time_left_text(
    status: str, started_at: dt.datetime | None, fraction: float, now: dt.datetime
) -> str:
    """The time a running job has left, in words (:func:`seconds_left`); "" for a job that
    is not running or has not reported a fraction yet.

    >>> start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    >>> time_left_text("running", start, 0.25, start + dt.timedelta(minutes=2))
    'about 6 min left'
    """
    if status != "running" or started_at is None:
        return ""
    if started_at.tzinfo is None:  # SQLite hands back naive UTC times
        started_at = started_at.replace(tzinfo=dt.UTC)
    return describe_time_left(seconds_left((now - started_at).total_seconds(), fraction))
