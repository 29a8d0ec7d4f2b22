"""First-order features: intensity statistics, intensity histogram, intensity-volume histogram.

Formulas: Zwanenburg et al., IBSI reference manual, arXiv:1612.07003, sections 3.3
(statistics, family code UHIW), 3.4 (intensity histogram, ZVCW) and 3.5 (intensity-volume
histogram, P88C). Variance, skewness and kurtosis are population moments (1/N); kurtosis is
the *excess* kurtosis (m4/m2² − 3). Percentiles interpolate linearly (numpy's default).

Feature names (prefix ``stat_`` or ``ih_``; IBSI code statistics / histogram):

===========  ============================================  ====  ====
name         definition                                    stat  ih
===========  ============================================  ====  ====
mean         mean                                          Q4LE  X6K6
var          Σ(x−μ)²/N                                     ECT3  CH89
skew         m3 / m2^1.5 (0 for a constant ROI)            KE2A  88K1
kurt         m4 / m2² − 3 (0 for a constant ROI)           IPH6  C3I7
median       median                                        Y12H  WIFQ
min          minimum                                       1GSF  1PR8
p10          10th percentile                               QG58  GPMT
p90          90th percentile                               8DWT  OZ0C
max          maximum                                       84IY  3NCY
iqr          P75 − P25                                     SALO  WR0O
range        max − min                                     2OJQ  5Z3W
mad          mean |x − μ|                                  4FUA  D2ZX
rmad         mean |x − μ₁₀₋₉₀| over P10 ≤ x ≤ P90 (NaN if   1128  WRZB
             no value lies there)
medad        mean |x − median|                             N72L  4RNL
cov          σ / μ                                         7TET  CWYJ
qcod         (P75 − P25) / (P75 + P25)                     9S40  SLWD
energy       Σ x² (statistics only)                        N8CA
rms          sqrt(Σ x² / N) (statistics only)              5ZWQ
mode         most frequent level, ties → nearest the mean        AMMC
entropy      −Σ p log2 p over levels                             TLU2
uniformity   Σ p²                                                BJ5W
max_grad     max of the histogram gradient H'                    12CE
max_grad_g   level of max_grad                                   8E6O
min_grad     min of H'                                           VQB3
min_grad_g   level of min_grad                                   RHQZ
===========  ============================================  ====  ====

The histogram gradient is ``H'(i) = (H(i+1) − H(i−1)) / 2`` with one-sided differences at
levels 1 and Ng (IBSI 3.4.20).

Intensity-volume histogram (prefix ``ivh_``): ``v10``, ``v90`` (BC2M: volume fraction with
intensity fraction ≥ 10 %, 90 %), ``i10``, ``i90`` (GBPN: lowest intensity whose volume
fraction is ≤ 10 %, 90 %), ``diff_v10_v90`` (DDTU), ``diff_i10_i90`` (CNV2).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.features.discretise import GreyLevels

FloatArray = npt.NDArray[np.float64]


def _moments(x: FloatArray) -> dict[str, float]:
    mean = float(x.mean())
    centred = x - mean
    m2 = float(np.mean(centred**2))
    m3 = float(np.mean(centred**3))
    m4 = float(np.mean(centred**4))
    skew = m3 / m2**1.5 if m2 > 0 else 0.0
    kurt = m4 / m2**2 - 3.0 if m2 > 0 else 0.0
    return {"mean": mean, "var": m2, "skew": skew, "kurt": kurt}


def _distribution(x: FloatArray) -> dict[str, float]:
    """The features statistics and the intensity histogram share, on values ``x`` (N,)."""
    p10, p25, median, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 50, 75, 90]))
    features = _moments(x)
    mean = features["mean"]
    robust = x[(x >= p10) & (x <= p90)]
    features.update(
        median=median,
        min=float(x.min()),
        p10=p10,
        p90=p90,
        max=float(x.max()),
        iqr=p75 - p25,
        range=float(x.max() - x.min()),
        mad=float(np.mean(np.abs(x - mean))),
        rmad=float(np.mean(np.abs(robust - robust.mean()))) if robust.size else float("nan"),
        medad=float(np.mean(np.abs(x - median))),
        cov=float(np.sqrt(features["var"]) / mean) if mean != 0 else float("nan"),
        qcod=(p75 - p25) / (p75 + p25) if (p75 + p25) != 0 else float("nan"),
    )
    return features


def intensity_statistics(values: FloatArray) -> dict[str, float]:
    """IBSI intensity statistics (3.3) of the ROI intensities ``values`` (N,), names ``stat_*``."""
    x = np.asarray(values, dtype=np.float64)
    features = _distribution(x)
    features["energy"] = float(np.sum(x**2))
    features["rms"] = float(np.sqrt(np.mean(x**2)))
    return {f"stat_{name}": value for name, value in features.items()}


def intensity_histogram(levels: GreyLevels) -> dict[str, float]:
    """IBSI intensity-histogram features (3.4) of the discretised ROI, names ``ih_*``."""
    x = levels.levels[levels.levels > 0].astype(np.float64)
    features = _distribution(x)
    counts = np.bincount(x.astype(np.int64), minlength=levels.n_levels + 1)[1:].astype(float)
    p = counts / counts.sum()
    grey = np.arange(1, levels.n_levels + 1, dtype=np.float64)
    modes = grey[counts == counts.max()]
    features["mode"] = float(modes[np.argmin(np.abs(modes - features["mean"]))])
    nonzero = p[p > 0]
    features["entropy"] = float(-np.sum(nonzero * np.log2(nonzero)))
    features["uniformity"] = float(np.sum(p**2))
    gradient = np.gradient(counts) if counts.size > 1 else np.zeros(1)
    features["max_grad"] = float(gradient.max())
    features["max_grad_g"] = float(grey[np.argmax(gradient)])
    features["min_grad"] = float(gradient.min())
    features["min_grad_g"] = float(grey[np.argmin(gradient)])
    return {f"ih_{name}": value for name, value in features.items()}


def intensity_volume_histogram(levels: GreyLevels) -> dict[str, float]:
    """IBSI intensity-volume histogram features (3.5), names ``ivh_*``.

    The histogram runs over the grey levels from the lowest to the highest present in the
    ROI; each level stands for ``levels.intensities`` (the bin centre with a fixed bin
    width). ``γ = (X − X_min) / (X_max − X_min)`` is the intensity fraction, ``ν(i)`` the
    fraction of the volume with level ≥ i. ``I_x`` is the lowest intensity with ``ν ≤ x``;
    when no level qualifies it is one step above the maximum.
    """
    x = levels.levels[levels.levels > 0]
    low, high = int(x.min()), int(x.max())
    grid = np.arange(low, high + 1)
    intensity = levels.intensities[grid - 1]
    counts = np.bincount(x - low, minlength=grid.size).astype(np.float64)
    volume_at_least = counts[::-1].cumsum()[::-1] / counts.sum()
    span = intensity[-1] - intensity[0]
    gamma = (intensity - intensity[0]) / span if span > 0 else np.zeros_like(intensity)

    def volume_fraction(fraction: float) -> float:
        above = gamma >= fraction
        return float(volume_at_least[np.argmax(above)]) if above.any() else 0.0

    def intensity_at(fraction: float) -> float:
        below = volume_at_least <= fraction
        return float(intensity[np.argmax(below)] if below.any() else intensity[-1] + levels.step)

    v10, v90 = volume_fraction(0.10), volume_fraction(0.90)
    i10, i90 = intensity_at(0.10), intensity_at(0.90)
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
    }
