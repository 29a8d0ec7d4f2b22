"""The training objective: class-weighted cross-entropy plus λ · Cox partial likelihood
(plus μ · binary cross-entropy of the response, for a network with a response head).

``loss = CE_w(genotype logits, class) + λ · NLL_Cox(risk score; duration, event)
+ μ · BCE(response logit, response)``

Rows whose class is unknown (−1) leave the cross-entropy; rows whose duration is unknown (NaN)
leave the Cox term; rows whose response is unknown (−1) leave the response term. Each term is 0
(with a gradient of zeros) when no row of the batch contributes to it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F


def class_weights(labels: npt.ArrayLike, n_classes: int) -> npt.NDArray[np.float32]:
    """Inverse-frequency weights ``n / (K · n_c)`` over the known labels; 0 for absent classes.

    >>> class_weights([0, 0, 0, 1, -1], 2).tolist()
    [0.6666666865348816, 2.0]
    """
    values = np.asarray(labels)
    known = values[values >= 0]
    counts = np.bincount(known, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(known) / (present.sum() * counts[present])
    return weights.astype(np.float32)


def cox_breslow_nll(
    risk: torch.Tensor, durations: torch.Tensor, events: torch.Tensor
) -> torch.Tensor:
    """Mean negative Cox partial log-likelihood with Breslow's handling of ties.

    ``−(1/d) Σ_{i: δ_i = 1} [ r_i − log Σ_{j: t_j ≥ t_i} exp(r_j) ]`` over the rows with a
    finite duration; d is their number of events (Breslow, Biometrics 1974; Cox, JRSS-B 1972).
    0 when there are no events.

    Parameters
    ----------
    risk
        Log hazard ratio per row, shape (N,).
    durations
        Follow-up, months (any unit), shape (N,); NaN = unknown (row ignored).
    events
        1 = event observed, 0 = censored, shape (N,).
    """
    known = torch.isfinite(durations)
    r, t, e = risk[known], durations[known], events[known] > 0.5
    if not bool(e.any()):
        return risk.sum() * 0.0
    at_risk = t.unsqueeze(0) >= t.unsqueeze(1)  # row i: who is still at risk at t_i
    log_risk_set = torch.logsumexp(r.unsqueeze(0).masked_fill(~at_risk, float("-inf")), dim=1)
    return -(r[e] - log_risk_set[e]).mean()


def weighted_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Class-weighted mean cross-entropy over rows with ``labels >= 0``; 0 if there are none."""
    known = labels >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known], labels[known], weight=weights)


def response_cross_entropy(logit: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the response logit over rows with ``response >= 0``
    (1 = responded, 0 = not, −1 = unknown); 0 if there are none.

    ``−(1/n) Σ [y log σ(z) + (1 − y) log(1 − σ(z))]``.
    """
    known = response >= 0
    if not bool(known.any()):
        return logit.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logit[known], response[known].to(logit.dtype))


def total_loss(
    logits: torch.Tensor,
    risk: torch.Tensor,
    labels: torch.Tensor,
    durations: torch.Tensor,
    events: torch.Tensor,
    weights: torch.Tensor,
    cox_weight: float,
    response: tuple[torch.Tensor, torch.Tensor] | None = None,
    response_weight: float = 1.0,
) -> torch.Tensor:
    """``CE_w + cox_weight · NLL_Cox`` (see the module docstring), plus
    ``response_weight · BCE`` when ``response`` = (response logit (N,), response (N,))."""
    ce = weighted_cross_entropy(logits, labels, weights)
    loss = ce + cox_weight * cox_breslow_nll(risk, durations, events)
    if response is not None:
        loss = loss + response_weight * response_cross_entropy(*response)
    return loss
