"""Grey level co-occurrence matrix (GLCM) features, 3-D, distance 1, symmetric (IBSI 3.6).

For each of the 13 directions the matrix counts voxel pairs ``(i, j)`` at that offset, both
in the ROI, and is made symmetric (``M + Mᵀ``). Two aggregations (IBSI 3.1):

- ``3d_avg``: the features of each direction's matrix, averaged over the 13 directions;
- ``3d_v_mrg``: one matrix summed over the 13 directions, then the features.

Feature names are ``cm_<feature>_d1_<aggregation>``. Formulas (``p`` the normalised matrix,
``p_x`` its marginal, ``p_{x−y}(k)`` the sum over ``|i−j| = k``, ``p_{x+y}(k)`` over
``i+j = k``, logarithms base 2); reference Zwanenburg et al., IBSI reference manual,
arXiv:1612.07003, section 3.6 (family code LFYI):

=================  ====  =====================================================
feature            IBSI  formula
=================  ====  =====================================================
joint_max          GYBY  max p_ij
joint_avg          60VM  μ = Σ i p_ij
joint_var          UR99  Σ (i − μ)² p_ij
joint_entr         TU9B  −Σ p_ij log2 p_ij
diff_avg           TF7R  μ_d = Σ k p_{x−y}(k)
diff_var           D3YU  Σ (k − μ_d)² p_{x−y}(k)
diff_entr          NTRS  −Σ p_{x−y} log2 p_{x−y}
sum_avg            ZGXS  μ_s = Σ k p_{x+y}(k)
sum_var            OEEB  Σ (k − μ_s)² p_{x+y}(k)
sum_entr           P6QZ  −Σ p_{x+y} log2 p_{x+y}
energy             8ZQL  Σ p_ij² (angular second moment)
contrast           ACUI  Σ (i − j)² p_ij
dissimilarity      8S9J  Σ |i − j| p_ij
inv_diff           IB1Z  Σ p_ij / (1 + |i − j|)
inv_diff_norm      NDRX  Σ p_ij / (1 + |i − j| / Ng)
inv_diff_mom       WF0Z  Σ p_ij / (1 + (i − j)²)
inv_diff_mom_norm  1QCO  Σ p_ij / (1 + (i − j)² / Ng²)
inv_var            E8JP  Σ_{k≥1} p_{x−y}(k) / k²
corr               NI2N  Σ (i − μ_x)(j − μ_y) p_ij / (σ_x σ_y)
auto_corr          QWB0  Σ i j p_ij
clust_tend         DG8W  Σ (i + j − μ_x − μ_y)² p_ij
clust_shade        7NFM  Σ (i + j − μ_x − μ_y)³ p_ij
clust_prom         AE86  Σ (i + j − μ_x − μ_y)⁴ p_ij
info_corr1         R8DG  (HXY − HXY1) / HX
info_corr2         JN9H  sqrt(1 − exp(−2 (HXY2 − HXY)))
=================  ====  =====================================================

with ``HXY`` the joint entropy, ``HX = −Σ p_x log2 p_x``, ``HXY1 = −Σ p_ij log2(p_x(i) p_y(j))``
and ``HXY2 = −Σ p_x(i) p_y(j) log2(p_x(i) p_y(j))``. ``corr`` and ``info_corr1`` are NaN when
the ROI holds one grey level (σ = 0, HX = 0).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.features.directions import DIRECTIONS_3D, PaddedLevels

FloatArray = npt.NDArray[np.float64]


def cooccurrence_matrices(padded: PaddedLevels, n_levels: int) -> FloatArray:
    """Symmetric co-occurrence counts, shape (13, Ng, Ng): one matrix per 3-D direction."""
    matrices = np.empty((len(DIRECTIONS_3D), n_levels, n_levels), dtype=np.float64)
    for d, offset in enumerate(DIRECTIONS_3D):
        a, b = padded.pairs(offset)
        counts = np.bincount((a - 1) * n_levels + (b - 1), minlength=n_levels * n_levels)
        m = counts.reshape(n_levels, n_levels).astype(np.float64)
        matrices[d] = m + m.T
    return matrices


def _entropy(p: FloatArray, axis: tuple[int, ...]) -> FloatArray:
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return np.asarray(-np.sum(p * logs, axis=axis))


def _marginal_sums(p: FloatArray, index: npt.NDArray[np.int64], size: int) -> FloatArray:
    """Sum ``p`` (n, Ng, Ng) over the cells with the same ``index`` (Ng, Ng) → (n, size)."""
    one_hot = np.zeros((index.size, size))
    one_hot[np.arange(index.size), index.ravel()] = 1.0
    return np.asarray(p.reshape(p.shape[0], -1) @ one_hot)


def glcm_features(counts: FloatArray) -> dict[str, FloatArray]:
    """All GLCM features of a stack of matrices ``counts`` (n, Ng, Ng); each value is (n,).

    Matrices without any pair give NaN.
    """
    ng = counts.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / counts.sum(axis=(1, 2), keepdims=True)
        i = np.arange(1, ng + 1, dtype=np.float64)[:, None]
        j = i.T
        px, py = p.sum(axis=2), p.sum(axis=1)
        mu_x, mu_y = px @ i[:, 0], py @ i[:, 0]
        sigma_x = np.sqrt(np.sum(px * (i[:, 0] - mu_x[:, None]) ** 2, axis=1))
        sigma_y = np.sqrt(np.sum(py * (i[:, 0] - mu_y[:, None]) ** 2, axis=1))
        diff = np.abs(i - j).astype(np.int64)
        p_diff = _marginal_sums(p, diff, ng)
        k_diff = np.arange(ng, dtype=np.float64)
        p_sum = _marginal_sums(p, (i + j - 2).astype(np.int64), 2 * ng - 1)
        k_sum = np.arange(2, 2 * ng + 1, dtype=np.float64)
        mu_d, mu_s = p_diff @ k_diff, p_sum @ k_sum
        mu = np.sum(p * i, axis=(1, 2))

        def weighted(w: FloatArray) -> FloatArray:
            return np.asarray(np.sum(p * w, axis=(1, 2)))

        cluster = i + j - (mu_x + mu_y)[:, None, None]
        hxy = _entropy(p, (1, 2))
        hx = _entropy(px, (1,))
        outer = px[:, :, None] * py[:, None, :]
        log_outer = np.log2(outer, out=np.zeros_like(outer), where=outer > 0)
        hxy1 = -np.sum(p * log_outer, axis=(1, 2))
        hxy2 = -np.sum(outer * log_outer, axis=(1, 2))
        features = {
            "joint_max": p.max(axis=(1, 2)),
            "joint_avg": mu,
            "joint_var": weighted((i - mu[:, None, None]) ** 2),
            "joint_entr": hxy,
            "diff_avg": mu_d,
            "diff_var": np.sum(p_diff * (k_diff - mu_d[:, None]) ** 2, axis=1),
            "diff_entr": _entropy(p_diff, (1,)),
            "sum_avg": mu_s,
            "sum_var": np.sum(p_sum * (k_sum - mu_s[:, None]) ** 2, axis=1),
            "sum_entr": _entropy(p_sum, (1,)),
            "energy": weighted(p),
            "contrast": weighted((i - j) ** 2),
            "dissimilarity": weighted(np.abs(i - j)),
            "inv_diff": weighted(1.0 / (1.0 + np.abs(i - j))),
            "inv_diff_norm": weighted(1.0 / (1.0 + np.abs(i - j) / ng)),
            "inv_diff_mom": weighted(1.0 / (1.0 + (i - j) ** 2)),
            "inv_diff_mom_norm": weighted(1.0 / (1.0 + (i - j) ** 2 / ng**2)),
            "inv_var": p_diff[:, 1:] @ (1.0 / k_diff[1:] ** 2),
            "corr": (weighted(i * j) - mu_x * mu_y) / (sigma_x * sigma_y),
            "auto_corr": weighted(i * j),
            "clust_tend": np.sum(p * cluster**2, axis=(1, 2)),
            "clust_shade": np.sum(p * cluster**3, axis=(1, 2)),
            "clust_prom": np.sum(p * cluster**4, axis=(1, 2)),
            "info_corr1": (hxy - hxy1) / hx,
            "info_corr2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - hxy)), 0.0, None)),
        }
    empty = counts.sum(axis=(1, 2)) == 0
    return {name: np.where(empty, np.nan, value) for name, value in features.items()}


def glcm_3d(padded: PaddedLevels, n_levels: int) -> dict[str, float]:
    """GLCM features, distance 1, aggregations ``3d_avg`` and ``3d_v_mrg`` (names ``cm_*``)."""
    counts = cooccurrence_matrices(padded, n_levels)
    present = counts.sum(axis=(1, 2)) > 0
    per_direction = glcm_features(counts[present]) if present.any() else None
    merged = glcm_features(counts.sum(axis=0, keepdims=True))
    features: dict[str, float] = {}
    for name, values in merged.items():
        average = float(per_direction[name].mean()) if per_direction else float("nan")
        features[f"cm_{name}_d1_3d_avg"] = average
        features[f"cm_{name}_d1_3d_v_mrg"] = float(values[0])
    return features
