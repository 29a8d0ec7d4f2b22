"""Landmark analysis: restart the clock at a fixed time for those still at risk there.

References
----------
.. [ACG83] Anderson JR, Cain KC, Gelber RD. Analysis of survival by tumor response.
   J Clin Oncol 1983;1:710–719.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from numpy.typing import ArrayLike

from gistcad.analysis.time_to_event import BoolArray, FloatArray, check_survival_data
from gistcad.errors import ValidationError


@dataclass(frozen=True, eq=False)
class LandmarkData:
    """Patients kept at a landmark, with the clock restarted there.

    Attributes
    ----------
    durations : ndarray of float, shape (k,)
        Time since the landmark.
    event_observed : ndarray of bool, shape (k,)
    mask : ndarray of bool, shape (n,)
        Which input rows were kept; use it to subset groups and covariates.
    landmark_time : float
        In the unit of the input durations.
    """

    durations: FloatArray
    event_observed: BoolArray
    mask: BoolArray
    landmark_time: float


def landmark(durations: ArrayLike, event_observed: ArrayLike, landmark_time: float) -> LandmarkData:
    """Landmark analysis: keep those event-free and under follow-up at a fixed time.

    Groups defined by something that happens after time zero (response, adjuvant therapy
    completed) bias a naive comparison, since patients must survive to join the "good"
    group (Anderson, Cain & Gelber [ACG83]_). The landmark method keeps patients whose
    follow-up extends beyond ``landmark_time`` (duration > landmark: neither an event nor
    censoring at or before it) and restarts the clock at the landmark.

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
    landmark_time : float
        ≥ 0, in the unit of ``durations``.

    Returns
    -------
    LandmarkData
    """
    times, events = check_survival_data(durations, event_observed)
    if not (math.isfinite(landmark_time) and landmark_time >= 0):
        raise ValidationError(f"landmark_time must be finite and ≥ 0; got {landmark_time}")
    mask = times > landmark_time
    if not mask.any():
        raise ValidationError(
            f"nobody is event-free and under follow-up beyond the landmark {landmark_time:g}; "
            "choose an earlier landmark"
        )
    return LandmarkData(
        durations=times[mask] - landmark_time,
        event_observed=events[mask],
        mask=mask,
        landmark_time=float(landmark_time),
    )
