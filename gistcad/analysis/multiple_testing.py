"""False discovery rate: Benjamini–Hochberg adjusted p-values (q-values).

References
----------
.. [BH95] Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and
   powerful approach to multiple testing. J R Stat Soc B 1995;57:289–300.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gistcad.errors import ValidationError


def bh_qvalues(p_values: ArrayLike) -> NDArray[np.float64]:
    r"""Benjamini–Hochberg adjusted p-values, in the order given.

    With the :math:`m` tested p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, the
    adjusted value of the i-th is :math:`q_{(i)} = \min_{j \ge i} \min(1, m\, p_{(j)} / j)`
    [BH95]_; rejecting every hypothesis with :math:`q \le \alpha` is the step-up procedure
    that controls the false discovery rate at :math:`\alpha` for independent (or positively
    dependent) tests. Missing p-values (NaN: a test that could not be done) are left out of
    :math:`m` and stay NaN.

    Parameters
    ----------
    p_values : array_like, shape (m,)
        Values in [0, 1], or NaN.

    Returns
    -------
    ndarray, shape (m,)

    Raises
    ------
    ValidationError
        For a p-value outside [0, 1].

    Examples
    --------
    >>> bh_qvalues([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float).ravel()
    tested = np.isfinite(p)
    if ((p[tested] < 0) | (p[tested] > 1)).any():
        bad = p[tested][(p[tested] < 0) | (p[tested] > 1)][:3].tolist()
        raise ValidationError(f"p-values must lie in [0, 1]; got {bad}")
    q = np.full(p.shape, np.nan)
    values = p[tested]
    m = values.size
    if m == 0:
        return q
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[tested] = out
    return q
