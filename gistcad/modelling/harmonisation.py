"""ComBat harmonisation of features across centers (scanners), fitted on training rows only.

Johnson, Li & Rabinovic 2007 (Biostatistics 8:118), the parametric empirical-Bayes form used
for radiomics (neuroCombat, Fortin et al. 2018). For feature g of sample i in batch j::

    x_ijg = α_g + C_i β_g + γ_jg + δ_jg ε_ijg

α_g (the pooled mean, batches weighted by size) and β_g (the protected covariates C, e.g. the
tumour's size and site, whose effect must survive) come from least squares on the batch
indicators and C; the residual variance σ²_g is pooled over all samples. The standardised data
give per-batch location γ̂_jg and scale δ̂²_jg, which are shrunk toward their batch's prior
across features (normal prior for γ, inverse gamma for δ², hyper-parameters by the method of
moments, iterated to convergence). The output is
``σ_g (z_ijg − γ*_jg) / δ*_jg + α_g + C_i β_g``.

Without shrinkage (``empirical_bayes=False``) every batch's output has the pooled mean and the
pooled variance of each feature (tested). A batch not seen at fitting (a new center, or every
test center under leave-one-center-out validation) and a batch of fewer than
:data:`MIN_BATCH` training samples are left unharmonised: there is nothing to estimate its
shift from without reading the patients being predicted. It is implemented here in numpy (a fit
on training rows, an apply to new rows, as the folds need); no ComBat package from PyPI was
checked against the pinned stack in the time available, so none is added.

**Adjusted covariates.** Beside the protected covariates C, ``adjust`` A (e.g. the tube voltage,
kVp) enters the same least squares, ``x_ijg = α_g + C_i β_g + A_i η_g + γ_jg + δ_jg ε_ijg``,
but its effect is removed, not restored: the output is
``σ_g (z_ijg − γ*_jg) / δ*_jg + α_g + C_i β_g + Ā η_g``, every scan brought to the training
rows' mean Ā. A scan parameter changes the HU-based features physically, as a scanner does,
so it is a nuisance to remove (a continuous batch effect), not biology to keep (Orlhac et al.
2022, "A guide to ComBat harmonization of imaging biomarkers in multicenter studies", J Nucl
Med 63:172; Ligero et al. 2021, Eur Radiol 31:1460, on CT acquisition parameters as batch
effects). The slope η is also removed from rows of a batch not harmonised (it was estimated on
the training rows, and is the same for any scan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: the fewest training samples a batch needs to be harmonised (a variance needs two)
MIN_BATCH = 2
_EPS = 1e-12


class KvpUse(StrEnum):
    """How the tube voltage (kVp) enters ComBat, a choice of the radiomics settings."""

    #: removed like a scanner effect (:class:`ComBat`'s ``adjust``): the default
    ADJUST = "adjust"
    #: kept, as size is (a protected covariate): only if kVp carried biology, which it does not
    PROTECT = "protect"
    #: not used
    IGNORE = "ignore"


@dataclass
class ComBat:
    """Location/scale harmonisation per batch with empirical-Bayes shrinkage.

    Parameters
    ----------
    empirical_bayes : bool
        Shrink the per-batch estimates toward their priors (the ComBat default).
    mean_only : bool
        Harmonise the location alone, every batch's scale left as it is (neuroCombat's
        ``mean_only``): for few features, whose batch variances have nothing to be shrunk
        toward and, from a handful of rows, can scale a new row's distance from its batch's
        mean without bound.
    min_batch : int
        The fewest training samples a batch needs to be harmonised (:data:`MIN_BATCH`).
    max_iter, tol : int, float
        The shrinkage's fixed-point iteration.
    """

    empirical_bayes: bool = True
    mean_only: bool = False
    min_batch: int = MIN_BATCH
    max_iter: int = 200
    tol: float = 1e-6
    batches_: list[object] = field(default_factory=list)
    alpha_: FloatArray = field(default_factory=lambda: np.zeros(0))
    beta_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    sigma_: FloatArray = field(default_factory=lambda: np.zeros(0))
    gamma_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    delta_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    gamma_hat_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    delta_hat_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    #: the adjusted covariates' slopes (r, p) and training means (r,)
    eta_: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    adjust_mean_: FloatArray = field(default_factory=lambda: np.zeros(0))

    def fit(
        self,
        x: FloatArray,
        batch: NDArray[np.object_],
        covariates: FloatArray | None = None,
        adjust: FloatArray | None = None,
    ) -> ComBat:
        """Estimate every term from the rows ``x`` (n, p) of batches ``batch`` (n,), with the
        protected ``covariates`` (n, q) and the ``adjust``-ed ones (n, r), or none. ``x`` and
        ``adjust`` must have no missing value."""
        x = np.asarray(x, dtype=np.float64)
        batch = np.asarray(batch, dtype=object)
        if not np.isfinite(x).all():
            raise ValueError("ComBat needs finite features: impute missing values first")
        n, p = x.shape
        c = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
        a = np.zeros((n, 0)) if adjust is None else np.asarray(adjust, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ValueError("ComBat needs finite adjusted covariates: impute them first")
        names, counts = np.unique(batch.astype(str), return_counts=True)
        kept = [str(b) for b, k in zip(names, counts, strict=True) if k >= self.min_batch]
        self.batches_ = list(kept)
        self.eta_, self.adjust_mean_ = np.zeros((a.shape[1], p)), np.zeros(a.shape[1])
        if len(kept) < 2:  # one batch (or none big enough): nothing to harmonise
            self.alpha_, self.beta_ = np.zeros(p), np.zeros((c.shape[1], p))
            self.sigma_ = np.ones(p)
            self.gamma_ = self.delta_ = self.gamma_hat_ = self.delta_hat_ = np.zeros((0, p))
            return self
        rows = np.isin(batch.astype(str), kept)
        x, c, a, labels = x[rows], c[rows], a[rows], batch[rows].astype(str)
        onehot = (labels[:, None] == np.array(kept)[None, :]).astype(float)
        design = np.hstack([onehot, c, a])
        coef, *_ = np.linalg.lstsq(design, x, rcond=None)
        weights = onehot.sum(axis=0) / len(labels)
        self.alpha_ = weights @ coef[: len(kept)]
        self.beta_ = coef[len(kept) : len(kept) + c.shape[1]]
        self.eta_ = coef[len(kept) + c.shape[1] :]
        self.adjust_mean_ = a.mean(axis=0)
        residual = x - design @ coef
        self.sigma_ = np.sqrt(np.maximum((residual**2).mean(axis=0), _EPS))
        z = (x - self.alpha_ - c @ self.beta_ - a @ self.eta_) / self.sigma_
        gamma_hat = np.vstack([z[labels == b].mean(axis=0) for b in kept])
        delta_hat = np.vstack([z[labels == b].var(axis=0, ddof=1) for b in kept])
        delta_hat = np.maximum(delta_hat, _EPS)
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        if not self.empirical_bayes or p < 2:
            self.gamma_, self.delta_ = gamma_hat, delta_hat
        else:
            gammas, deltas = [], []
            for j, b in enumerate(kept):
                zj = z[labels == b]
                g, d = self._shrink(zj, gamma_hat[j], delta_hat[j])
                gammas.append(g)
                deltas.append(d)
            self.gamma_, self.delta_ = np.vstack(gammas), np.vstack(deltas)
        if self.mean_only:
            self.delta_ = np.ones_like(self.delta_)
        return self

    def _shrink(
        self, z: FloatArray, gamma_hat: FloatArray, delta_hat: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """One batch's posterior location and scale (Johnson et al. 2007, section 3.2)."""
        n = z.shape[0]
        gamma_bar, tau2 = gamma_hat.mean(), max(gamma_hat.var(ddof=1), _EPS)
        m, s2 = delta_hat.mean(), max(delta_hat.var(ddof=1), _EPS)
        a = (2 * s2 + m**2) / s2
        b = (m * s2 + m**3) / s2
        gamma, delta = gamma_hat.copy(), delta_hat.copy()
        for _ in range(self.max_iter):
            new_gamma = (n * tau2 * gamma_hat + delta * gamma_bar) / (n * tau2 + delta)
            new_delta = (b + 0.5 * ((z - new_gamma) ** 2).sum(axis=0)) / (n / 2 + a - 1)
            change = max(
                np.max(np.abs(new_gamma - gamma) / (np.abs(gamma) + _EPS)),
                np.max(np.abs(new_delta - delta) / (np.abs(delta) + _EPS)),
            )
            gamma, delta = new_gamma, new_delta
            if change < self.tol:
                break
        return gamma, delta

    def transform(
        self,
        x: FloatArray,
        batch: NDArray[np.object_],
        covariates: FloatArray | None = None,
        adjust: FloatArray | None = None,
    ) -> FloatArray:
        """``x`` harmonised; rows of a batch not harmonised at fitting are returned as they are
        but for the adjusted covariates' effect, which is removed from every row."""
        x = np.asarray(x, dtype=np.float64)
        # a model fitted before adjusted covariates existed has none
        eta = getattr(self, "eta_", np.zeros((0, x.shape[1])))
        mean = getattr(self, "adjust_mean_", np.zeros(0))
        a = np.zeros((len(x), eta.shape[0])) if adjust is None else np.asarray(adjust, float)
        nuisance = (a - mean) @ eta if eta.shape[0] else np.zeros_like(x)
        out = x - nuisance
        if not self.batches_ or self.gamma_.shape[0] == 0:
            return out
        c = np.zeros((len(x), 0)) if covariates is None else np.asarray(covariates, dtype=float)
        labels = np.asarray(batch, dtype=object).astype(str)
        fixed = self.alpha_ + c @ self.beta_ + (mean @ eta if eta.shape[0] else 0.0)
        for j, b in enumerate(self.batches_):
            rows = labels == b
            if rows.any():
                z = (out[rows] - fixed[rows]) / self.sigma_
                adjusted = (z - self.gamma_[j]) / np.sqrt(self.delta_[j])
                out[rows] = adjusted * self.sigma_ + fixed[rows]
        return out

    def fit_transform(
        self,
        x: FloatArray,
        batch: NDArray[np.object_],
        covariates: FloatArray | None = None,
        adjust: FloatArray | None = None,
    ) -> FloatArray:
        """:meth:`fit` then :meth:`transform` on the same rows."""
        return self.fit(x, batch, covariates, adjust).transform(x, batch, covariates, adjust)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the fitted terms (:meth:`from_dict` reads it back)."""
        out: dict[str, Any] = {
            "empirical_bayes": self.empirical_bayes,
            "mean_only": self.mean_only,
            "min_batch": self.min_batch,
            "batches": [str(b) for b in self.batches_],
        }
        for name in _FITTED:
            value = np.asarray(getattr(self, f"{name}_"), dtype=np.float64)
            out[name] = {"shape": list(value.shape), "values": value.ravel().tolist()}
        return out

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> ComBat:
        """The ComBat of :meth:`to_dict`."""
        combat = cls(
            empirical_bayes=bool(stored["empirical_bayes"]),
            mean_only=bool(stored["mean_only"]),
            min_batch=int(stored["min_batch"]),
        )
        combat.batches_ = list(stored["batches"])
        for name in _FITTED:
            shape = stored[name]["shape"]
            values = np.asarray(stored[name]["values"], dtype=np.float64).reshape(shape)
            setattr(combat, f"{name}_", values)
        return combat


#: the fitted arrays of :class:`ComBat` (attribute names without the trailing underscore)
_FITTED: tuple[str, ...] = ("alpha", "beta", "sigma", "gamma", "delta", "gamma_hat")
_FITTED += ("delta_hat", "eta", "adjust_mean")


def center_kvp_medians(
    kvp: FloatArray, centers: NDArray[np.object_]
) -> tuple[dict[str, float], float]:
    """The training rows' median kVp per center and pooled (NaN where none is known)."""
    values = _by_center(kvp, centers)
    per_center = {str(c): float(v) for c, v in values.groupby(level=0).median().items()}
    return per_center, float(np.nanmedian(kvp)) if np.isfinite(kvp).any() else float("nan")


def impute_kvp(
    kvp: FloatArray, centers: NDArray[np.object_], medians: dict[str, float], pooled: float
) -> FloatArray:
    """kVp with a missing value imputed by its center's training median (``medians``), else
    the pooled training median."""
    sites = np.asarray(centers, dtype=object).astype(str)
    filled = np.array([medians.get(c, np.nan) for c in sites], dtype=float)
    filled = np.where(np.isfinite(filled), filled, pooled)
    return np.where(np.isfinite(kvp), kvp, filled)


def varies_within_a_center(kvp: FloatArray, centers: NDArray[np.object_]) -> bool:
    """Whether kVp varies within at least one center: else the centers' batch terms hold its
    effect, and as a covariate it would be collinear with them."""
    spread = _by_center(kvp, centers).groupby(level=0).std(ddof=0).fillna(0.0)
    return bool((spread > 0).any())


def _by_center(values: FloatArray, centers: NDArray[np.object_]) -> pd.Series:
    """``values`` indexed by center name."""
    index = pd.Index(np.asarray(centers, dtype=object).astype(str))
    return pd.Series(np.asarray(values, dtype=float), index=index)


def table_centers(table: pd.DataFrame) -> NDArray[np.object_]:
    """Each row's center, the batch of ComBat (one batch for a table without centers)."""
    if "center" not in table:
        return np.full(len(table), "", dtype=object)
    return table["center"].astype(str).to_numpy(dtype=object)
