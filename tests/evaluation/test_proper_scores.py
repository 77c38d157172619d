"""The ranked probability score: by hand, against sklearn where they coincide, ordinal and proper."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from reelcast.evaluation.metrics import (
    LOWER_IS_BETTER,
    brier,
    log_loss,
    proper_score_fns,
    ranked_probability_score,
)


def test_rps_by_hand():
    # Three classes, truth = middle: cumulative forecast (0.2, 0.7) against the step (0, 1).
    probs = [[0.2, 0.5, 0.3]]
    assert ranked_probability_score([1], probs) == pytest.approx((0.2**2 + 0.3**2) / 2)


def test_rps_bounds():
    eight = np.eye(8)
    assert ranked_probability_score(np.arange(8), eight) == 0.0
    # A certain forecast of class 0 for a class-7 film is the worst possible.
    assert ranked_probability_score([7], eight[[0]]) == pytest.approx(1.0)


def test_rps_two_classes_is_the_binary_brier_score():
    rng = np.random.default_rng(0)
    p1 = rng.uniform(size=50)
    y = rng.integers(0, 2, size=50)
    probs = np.column_stack([1 - p1, p1])
    assert ranked_probability_score(y, probs) == pytest.approx(brier_score_loss(y, p1), abs=1e-12)


def test_rps_knows_the_order_where_log_loss_and_brier_do_not():
    near = np.zeros((1, 8))
    near[0, [3, 4]] = 0.5  # truth 3, the rest of the mass one class away
    far = np.zeros((1, 8))
    far[0, [3, 7]] = 0.5  # the same mass four classes away
    assert log_loss([3], near) == pytest.approx(log_loss([3], far))
    assert brier([3], near) == pytest.approx(brier([3], far))
    assert ranked_probability_score([3], near) < ranked_probability_score([3], far)


def test_rps_is_proper_the_true_distribution_scores_best_in_expectation():
    q = np.array([0.05, 0.1, 0.3, 0.25, 0.15, 0.1, 0.03, 0.02])

    def expected(f):
        return sum(q[k] * ranked_probability_score([k], f[None, :]) for k in range(8))

    rng = np.random.default_rng(1)
    for _ in range(20):
        other = rng.dirichlet(np.ones(8))
        assert expected(q) < expected(other)
    assert expected(q) < expected(np.roll(q, 1))


def test_rps_refuses_logits_and_length_mismatch():
    with pytest.raises(ValueError, match="sum to 1"):
        ranked_probability_score([0], [[0.9, 0.9, 0.5]])
    with pytest.raises(ValueError, match="differ in length"):
        ranked_probability_score([0, 1], [[0.5, 0.5]])


def test_proper_scores_are_lower_is_better_and_take_probabilities():
    fns = proper_score_fns()
    assert set(fns) <= LOWER_IS_BETTER
    y = np.array([0, 1, 2])
    probs = np.full((3, 3), 1 / 3)
    assert fns["ranked_probability_score"](y, probs) == pytest.approx(ranked_probability_score(y, probs))
    assert fns["log_loss"](y, probs) == pytest.approx(np.log(3))
