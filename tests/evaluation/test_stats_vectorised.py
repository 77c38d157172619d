"""The vectorised bootstrap gives the very intervals and p-values of the one-resample-at-a-time path."""

from __future__ import annotations

import numpy as np
import pytest

from reelcast.evaluation.metrics import SCALAR_METRICS, metric_fns
from reelcast.evaluation.stats import bootstrap_ci, bootstrap_reduce_ci, paired_bootstrap

FNS = metric_fns()


@pytest.mark.parametrize("n", [1, 2, 37, 400])
def test_vectorised_bootstrap_equals_the_plain_loop(n):
    rng = np.random.default_rng(n)
    t = rng.integers(0, 8, n)
    p = np.clip(t + rng.integers(-2, 3, n), 0, 7)
    q = rng.integers(0, 8, n)
    for m in SCALAR_METRICS:
        fn = FNS[m]
        assert fn.batched is not None

        def plain(a, b, fn=fn):  # no vectorised form attached: scored one resample at a time
            return fn(a, b)

        assert np.allclose(
            bootstrap_ci(t, p, fn, 300, 0.9, 5), bootstrap_ci(t, p, plain, 300, 0.9, 5), atol=1e-12
        )
        fast, slow = paired_bootstrap(t, p, q, fn, 300, 0.9, 5), paired_bootstrap(t, p, q, plain, 300, 0.9, 5)
        assert fast.keys() == slow.keys()
        assert all(np.isclose(fast[k], slow[k], atol=1e-12) for k in fast)


def test_confusion_metrics_match_the_scalar_metrics_row_by_row():
    from reelcast.evaluation.stats import _confusions

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 8, 50), rng.integers(0, 8, 50)
    idx = rng.integers(0, 50, (7, 50))
    cms = _confusions(t, p, idx, 8)
    for m in SCALAR_METRICS:
        got = FNS[m].batched(cms)
        assert np.allclose(got, [FNS[m](t[i], p[i]) for i in idx], atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 87])
@pytest.mark.parametrize("reduce", [np.mean, np.median])
def test_reduced_per_film_values_bootstrap_as_the_plain_loop(n, reduce):
    # Revenue-range coverage and widths are a mean and medians of per-film values.
    v = np.random.default_rng(n).lognormal(3, 1.5, n)

    def plain(t, _):  # one resample at a time, through bootstrap_ci
        return float(reduce(t))

    assert bootstrap_reduce_ci(v, reduce, 300, 0.9, 5) == bootstrap_ci(v, v, plain, 300, 0.9, 5)
