"""The one progress shape: counted steps tell their message and done of total."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistcad.modelling.evaluation import evaluate
from gistcad.modelling.targets import Target
from gistcad.progress import counted


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, int | None]] = []

    def __call__(self, message: str, done: int | None = None, total: int | None = None) -> None:
        self.calls.append((message, done, total))


def test_counted_reports_the_message_and_the_counts() -> None:
    progress = Recorder()
    counted("predicted", 3, 8, progress)
    counted("predicted", 4, 8, None)  # nobody listening: nothing happens
    assert progress.calls == [("predicted 3/8", 3, 8)]


def test_evaluation_reports_each_center_s_bootstrap() -> None:
    rng = np.random.default_rng(1)
    n = 60
    label = rng.integers(0, 2, n)
    oof = pd.DataFrame(
        {
            "pseudonym": [f"P{i}" for i in range(n)],
            "center": np.where(np.arange(n) < 30, "A", "B"),
            "label": label,
            "p_not_kit11": 1 - (0.3 + 0.4 * label),
            "p_kit11": 0.3 + 0.4 * label,
        }
    )
    progress = Recorder()
    evaluate(oof, Target.KIT11, progress=progress)
    # one task, two centers and the pooled row
    assert progress.calls == [(f"bootstrap {k}/3", k, 3) for k in (1, 2, 3)]
