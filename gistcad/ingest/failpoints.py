"""Named points in the import path where the fault-injection tests kill the process.

An import calls :func:`checkpoint` at the steps where a real crash would leave the most behind
(a file staged, a file published, just before and just after the commit). Normally it does
nothing. With ``GISTCAD_FAILPOINT=NAME`` (or ``NAME:N``, the N-th time that point is reached)
in the environment, the process sends itself SIGKILL there: no ``finally`` block, no exit
handler runs, exactly as when the machine loses power or the kernel kills the process for its
memory. The tests then check that a second import completes and leaves nothing lost or twice.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

FAILPOINT_VAR = "GISTCAD_FAILPOINT"
_reached: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    """Kill this process if ``GISTCAD_FAILPOINT`` names this point (and count)."""
    spec = os.environ.get(FAILPOINT_VAR, "")
    if not spec:
        return
    point, _, count = spec.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(count or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
