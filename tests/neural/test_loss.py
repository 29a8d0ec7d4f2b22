from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gistcad.neural.loss import class_weights, cox_breslow_nll, weighted_cross_entropy


def test_cox_breslow_by_hand_with_a_tie() -> None:
    # t = 1 (event), 2 (event), 2 (censored): risk sets {0, 1, 2} and {1, 2} (tie included)
    r = [0.5, -0.2, 0.1]
    first = r[0] - math.log(sum(math.exp(v) for v in r))
    second = r[1] - math.log(math.exp(r[1]) + math.exp(r[2]))
    got = cox_breslow_nll(torch.tensor(r), torch.tensor([1.0, 2.0, 2.0]), torch.tensor([1, 1, 0]))
    assert float(got) == pytest.approx(-(first + second) / 2, rel=1e-6)


def test_cox_ignores_unknown_durations_and_handles_no_events() -> None:
    r = torch.tensor([0.5, -0.2, 0.1, 3.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0, 2.0, float("nan")])
    e = torch.tensor([1, 1, 0, 1])
    known = cox_breslow_nll(r[:3], t[:3], e[:3])
    assert float(cox_breslow_nll(r, t, e).detach()) == pytest.approx(float(known.detach()))
    none = cox_breslow_nll(r, t, torch.zeros(4))
    none.backward()
    assert float(none.detach()) == 0.0
    assert r.grad is not None and float(r.grad.abs().sum()) == 0.0


def test_cox_is_invariant_to_a_shift_of_the_risk() -> None:
    r = torch.tensor([0.3, 1.2, -0.4, 0.0])
    t, e = torch.tensor([5.0, 1.0, 9.0, 3.0]), torch.tensor([1, 1, 0, 1])
    assert float(cox_breslow_nll(r + 7.0, t, e)) == pytest.approx(float(cox_breslow_nll(r, t, e)))


def test_class_weights_and_unknown_labels() -> None:
    np.testing.assert_allclose(class_weights([0, 0, 0, 1, -1], 4), [2 / 3, 2.0, 0.0, 0.0])
    logits = torch.zeros(3, 4, requires_grad=True)
    loss = weighted_cross_entropy(logits, torch.tensor([-1, 0, 1]), torch.ones(4))
    assert float(loss.detach()) == pytest.approx(math.log(4))
    empty = weighted_cross_entropy(logits, torch.tensor([-1, -1, -1]), torch.ones(4))
    assert float(empty.detach()) == 0.0
