"""How far a training job is and how long it has left, from the messages it reports.

Training reports steps as text ("fold 2/5 (fold 2)", "radiomics features 40/180",
"epoch 3/12 val loss 0.91", "final model on all patients"). :class:`TrainingProgress` turns
them into a fraction: cross-validation's K folds and the final fit are K + 1 equal stages, and
a counted step inside a stage ("i/n") moves through that stage. A deep model first reads its
crops (the first 30 % of a stage), then trains epochs (the rest). :func:`seconds_left`
extrapolates the time left from the elapsed time and the fraction done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FOLD = re.compile(r"^fold (\d+)/(\d+)\b")
_COUNT = re.compile(r"(\d+)/(\d+)")
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
        elif (count := _COUNT.search(message)) and int(count[2]) > 0:
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
