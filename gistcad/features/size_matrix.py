"""Features of a grey-level × size matrix, shared by GLRLM, GLSZM, GLDZM and NGLDM.

The run-length, size-zone, distance-zone and dependence-count matrices all count
``s(i, j)``: elements (runs, zones, voxels) of grey level ``i`` with a "size" ``j`` (run
length, zone size, zone distance, dependence count, each from 1). Their features share the
same formulas; only the names differ (IBSI reference manual, arXiv:1612.07003, sections 3.7,
3.8, 3.9, 3.11). With ``N_s = Σ s``, ``s_i = Σ_j s(i, j)``, ``s_j = Σ_i s(i, j)``,
``p = s / N_s`` and ``N_v`` the number of voxels:

==========  ==============================  ======  ======  ======  ======
key         formula                         GLRLM   GLSZM   GLDZM   NGLDM
==========  ==============================  ======  ======  ======  ======
short       Σ s / j² / N_s                  22OV    5QRC    0GBI    SODN
long        Σ j² s / N_s                    W4KF    48P8    MB4I    IMOQ
low_gl      Σ s / i² / N_s                  V3SW    XMSY    S1RA    TL9H
high_gl     Σ i² s / N_s                    G3QZ    5GN9    K26C    OAE7
short_low   Σ s / (i² j²) / N_s             HTZT    5RAI    RUVG    EQ3F
short_high  Σ i² s / j² / N_s               GD3A    HW1V    DKNJ    JA6D
long_low    Σ j² s / i² / N_s               IVPO    YH51    KLTH    NBZI
long_high   Σ i² j² s / N_s                 3KUM    J17V    —       9QMG
glnu        Σ_i s_i² / N_s                  R5YN    JNSA    VFT7    FP8K
glnu_norm   Σ_i s_i² / N_s²                 OVBL    Y1RO    7HP3    5SPA
snu         Σ_j s_j² / N_s                  W92Y    4JP3    V294    Z87G
snu_norm    Σ_j s_j² / N_s²                 IC23    VB3A    IATH    OKJI
percentage  N_s / N_v                       9ZK5    P30P    VIWW    6XV8
gl_var      Σ (i − μ_i)² p, μ_i = Σ i p     8CE5    BYLV    QK93    1PFV
size_var    Σ (j − μ_j)² p, μ_j = Σ j p     SXLW    3NSA    7WT1    DNX2
size_entr   −Σ p log2 p                     HJ9O    GU8N    GBDU    FCBV
energy      Σ p² (NGLDM only)                                       CAS9
==========  ==============================  ======  ======  ======  ======

"—": code not copied here; see the manual's GLDZM table.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: The generic keys, in output order.
KEYS: tuple[str, ...] = (
    "short",
    "long",
    "low_gl",
    "high_gl",
    "short_low",
    "short_high",
    "long_low",
    "long_high",
    "glnu",
    "glnu_norm",
    "snu",
    "snu_norm",
    "percentage",
    "gl_var",
    "size_var",
    "size_entr",
    "energy",
)


def size_matrix_features(counts: FloatArray, n_voxels: FloatArray) -> dict[str, FloatArray]:
    """All generic features of a stack of matrices ``counts`` (n, Ng, Nsize), each (n,).

    ``counts[:, i-1, j-1]`` is the number of elements of grey level ``i`` and size ``j``;
    ``n_voxels`` (n,) is ``N_v`` for each matrix. Empty matrices give NaN.
    """
    _, ng, nsize = counts.shape
    i2 = np.arange(1, ng + 1, dtype=np.float64)[:, None] ** 2
    j2 = np.arange(1, nsize + 1, dtype=np.float64)[None, :] ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        n_s = counts.sum(axis=(1, 2))
        p = counts / n_s[:, None, None]
        s_i, s_j = counts.sum(axis=2), counts.sum(axis=1)
        i, j = np.sqrt(i2), np.sqrt(j2)
        mu_i = np.sum(p * i, axis=(1, 2))
        mu_j = np.sum(p * j, axis=(1, 2))
        logs = np.log2(p, out=np.zeros_like(p), where=p > 0)

        def mean_of(weight: FloatArray) -> FloatArray:
            return np.asarray(np.sum(p * weight, axis=(1, 2)))

        return {
            "short": mean_of(1.0 / j2),
            "long": mean_of(j2),
            "low_gl": mean_of(1.0 / i2),
            "high_gl": mean_of(i2),
            "short_low": mean_of(1.0 / (i2 * j2)),
            "short_high": mean_of(i2 / j2),
            "long_low": mean_of(j2 / i2),
            "long_high": mean_of(i2 * j2),
            "glnu": np.sum(s_i**2, axis=1) / n_s,
            "glnu_norm": np.sum(s_i**2, axis=1) / n_s**2,
            "snu": np.sum(s_j**2, axis=1) / n_s,
            "snu_norm": np.sum(s_j**2, axis=1) / n_s**2,
            "percentage": n_s / n_voxels,
            "gl_var": mean_of((i - mu_i[:, None, None]) ** 2),
            "size_var": mean_of((j - mu_j[:, None, None]) ** 2),
            "size_entr": -np.sum(p * logs, axis=(1, 2)),
            "energy": np.sum(p**2, axis=(1, 2)),
        }


def named(
    features: dict[str, FloatArray], names: dict[str, str], template: str
) -> dict[str, float]:
    """Rename generic keys to a family's names: ``template.format(names[key])``; first element.

    Keys missing from ``names`` are dropped.
    """
    return {template.format(names[key]): float(features[key][0]) for key in KEYS if key in names}
