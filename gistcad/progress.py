"""One shape for "how far is it": what training, prediction, evaluation and jobs report.

A :class:`Progress` is told a short message for each step ("fold 2/5 (fold 2)", "predicted
32/80") and, when the step is counted, how many of how many are done. The command line turns
it into a progress bar, the job worker into the job's progress and message; a function that
only cares for the message takes it as ``Callable[[str], None]``, which a Progress is.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Called for each step: ``message``, and ``done`` of ``total`` when they are known."""

    def __call__(self, message: str, done: int | None = None, total: int | None = None) -> None:
        """Take one step's report."""


def counted(what: str, done: int, total: int, progress: Progress | None) -> None:
    """Report ``done`` of ``total`` as "what done/total" (nothing when ``progress`` is None).

    >>> counted("predicted", 16, 40, lambda m, d=None, t=None: print(m, d, t))
    predicted 16/40 16 40
    """
    if progress is not None:
        progress(f"{what} {done}/{total}", done, total)
