import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import softmax
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from reelcast.evaluation.metrics import metric_fns
from reelcast.evaluation.stats import (
    apply_temperature,
    bootstrap_ci,
    expected_calibration_error,
    fit_temperature,
    holm,
    mcnemar,
    mean_std,
    paired_bootstrap,
    reliability_curve,
    significance_sentence,
    unpaired_bootstrap,
)

FNS = metric_fns()
ACC = FNS["accuracy"]


def films_from_table(both, b, c, neither, seed=0):
    """Labels and two prediction vectors whose correctness gives the 2x2 table [[both, b], [c, neither]]."""
    rng = np.random.default_rng(seed)
    n = both + b + c + neither
    t = rng.integers(0, 8, size=n)
    wrong = (t + 1) % 8
    right_a = np.array([True] * both + [True] * b + [False] * c + [False] * neither)
    right_b = np.array([True] * both + [False] * b + [True] * c + [False] * neither)
    perm = rng.permutation(n)
    t, right_a, right_b, wrong = t[perm], right_a[perm], right_b[perm], wrong[perm]
    return t, np.where(right_a, t, wrong), np.where(right_b, t, wrong)


TABLES = [
    (10, 0, 0, 5),  # no discordant films
    (10, 3, 7, 5),
    (20, 1, 9, 3),
    (5, 0, 6, 2),
    (50, 12, 13, 40),  # b + c = 25: first chi-square case
    (400, 150, 90, 260),  # large counts
    (1000, 400, 400, 1000),  # b == c
    (3000, 700, 610, 900),
]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("exact", [True, False])
def test_mcnemar_matches_statsmodels(table, exact):
    both, b, c, neither = table
    t, pa, pb = films_from_table(*table)
    got = mcnemar(t, pa, pb, exact=exact)
    assert (got["b"], got["c"]) == (b, c)
    assert got["table"] == [[both, b], [c, neither]]
    if not exact and b + c == 0:
        # statsmodels divides by zero (statistic inf, p 0); we define no discordant films as no evidence.
        with np.errstate(divide="ignore"):
            ref = sm_mcnemar(np.array(got["table"]), exact=exact, correction=True)
        assert ref.pvalue == 0.0
        assert got["p_value"] == 1.0 and got["statistic"] == 0.0
        return
    ref = sm_mcnemar(np.array(got["table"]), exact=exact, correction=True)
    assert got["statistic"] == pytest.approx(float(ref.statistic), abs=1e-12)
    assert got["p_value"] == pytest.approx(float(ref.pvalue), abs=1e-12)


def test_mcnemar_default_method_switches_at_25_discordant():
    small = mcnemar(*films_from_table(30, 10, 14, 5))
    large = mcnemar(*films_from_table(30, 11, 14, 5))
    assert small["method"] == "exact binomial"
    assert large["method"] == "chi-square with continuity correction"
    assert mcnemar(*films_from_table(10, 0, 0, 5))["p_value"] == 1.0


def test_mcnemar_detects_clear_difference():
    res = mcnemar(*films_from_table(100, 60, 10, 30))
    assert res["p_value"] < 1e-6


def test_bootstrap_ci_contains_point_and_is_deterministic():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 8, size=400)
    p = np.where(rng.random(400) < 0.6, t, (t + 1) % 8)
    point, low, high = bootstrap_ci(t, p, ACC, n_boot=500, seed=3)
    assert point == pytest.approx(np.mean(t == p))
    assert low < point < high
    assert bootstrap_ci(t, p, ACC, n_boot=500, seed=3) == (point, low, high)
    assert bootstrap_ci(t, p, ACC, n_boot=500, seed=4) != (point, low, high)
    # Other metrics work through the same interface.
    q_point, q_low, q_high = bootstrap_ci(t, p, FNS["qwk"], n_boot=200, seed=0)
    assert q_low <= q_point <= q_high


def test_bootstrap_ci_narrows_with_more_films():
    rng = np.random.default_rng(2)
    widths = []
    for n in (100, 2500):
        t = rng.integers(0, 8, size=n)
        p = np.where(rng.random(n) < 0.6, t, (t + 3) % 8)
        _, low, high = bootstrap_ci(t, p, ACC, n_boot=500, seed=0)
        widths.append(high - low)
    # Width scales like 1/sqrt(n): 5x narrower in theory.
    assert widths[1] < widths[0] / 3


def test_bootstrap_ci_of_accuracy_matches_normal_approximation():
    rng = np.random.default_rng(7)
    n = 3000
    t = rng.integers(0, 8, size=n)
    p = np.where(rng.random(n) < 0.6, t, (t + 2) % 8)
    point, low, high = bootstrap_ci(t, p, ACC, n_boot=2000, seed=0)
    half = 1.96 * math.sqrt(point * (1 - point) / n)  # ~0.0175
    assert low == pytest.approx(point - half, abs=0.003)
    assert high == pytest.approx(point + half, abs=0.003)


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ValueError):
        bootstrap_ci([0, 1], [0], ACC)
    with pytest.raises(ValueError):
        bootstrap_ci([0, 1], [0, 1], ACC, confidence=1.5)


def test_bootstrap_ci_is_scipys_percentile_bootstrap():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 8, size=300)
    p = np.where(rng.random(300) < 0.5, t, (t + 2) % 8)
    ref = sps.bootstrap(
        (np.arange(300),),
        lambda i: ACC(t[i], p[i]),
        n_resamples=400,
        vectorized=False,
        method="percentile",
        rng=np.random.default_rng(9),
    ).confidence_interval
    assert bootstrap_ci(t, p, ACC, n_boot=400, seed=9)[1:] == (ref.low, ref.high)
    # One film: every resample is that film, so the interval is the point.
    assert bootstrap_ci([3], [3], ACC, n_boot=50) == (1.0, 1.0, 1.0)


def test_bootstrap_resamples_rows_of_a_probability_matrix():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(8), size=200)
    y = rng.integers(0, 8, size=200)
    point, low, high = bootstrap_ci(y, probs, lambda t, pr: expected_calibration_error(pr, t), 200, seed=0)
    assert point == expected_calibration_error(probs, y) and low < point < high


def test_unpaired_bootstrap_of_two_film_sets():
    rng = np.random.default_rng(6)
    ta, tb = rng.integers(0, 8, 300), rng.integers(0, 8, 200)
    good = np.where(rng.random(300) < 0.8, ta, (ta + 1) % 8)
    bad = np.where(rng.random(200) < 0.4, tb, (tb + 1) % 8)
    res = unpaired_bootstrap(ta, good, tb, bad, ACC, n_boot=500, seed=1)
    assert res["diff"] == pytest.approx(np.mean(good == ta) - np.mean(bad == tb))
    assert 0 < res["low"] < res["diff"] < res["high"] and res["p_value"] == pytest.approx(2 / 501)
    assert res["n"] == 500 and unpaired_bootstrap(ta, good, tb, bad, ACC, n_boot=500, seed=1) == res
    same = unpaired_bootstrap(ta, good, ta, good, ACC, n_boot=300, seed=1)
    assert same["diff"] == 0.0 and same["p_value"] == 1.0 and same["low"] < 0 < same["high"]


def test_holm_correction():
    # Sorted p: 0.01 < 0.05/3, 0.02 < 0.05/2, 0.04 < 0.05/1 -> all kept; 0.046 alone of three is not.
    assert holm([0.04, 0.01, 0.02], 0.05) == [True, True, True]
    assert holm([0.046, 0.3, 0.9], 0.05) == [False, False, False]
    assert holm([0.001, 0.03, 0.9], 0.05) == [True, False, False]
    assert holm([], 0.05) == []
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(int(rng.integers(1, 8))) ** 3
        assert holm(list(p), 0.05) == list(multipletests(p, 0.05, method="holm")[0])


def test_paired_bootstrap_identical_predictions():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 8, size=200)
    p = rng.integers(0, 8, size=200)
    res = paired_bootstrap(t, p, p.copy(), ACC, n_boot=300, confidence=0.95, seed=0)
    assert res["diff"] == 0.0 and res["low"] == 0.0 and res["high"] == 0.0
    assert res["p_value"] == 1.0


def test_paired_bootstrap_clearly_better_model():
    rng = np.random.default_rng(1)
    n = 300
    t = rng.integers(0, 8, size=n)
    good = np.where(rng.random(n) < 0.8, t, (t + 1) % 8)
    bad = np.where(rng.random(n) < 0.5, t, (t + 1) % 8)
    res = paired_bootstrap(t, good, bad, ACC, n_boot=1000, confidence=0.95, seed=0)
    assert res["diff"] == pytest.approx(np.mean(good == t) - np.mean(bad == t))
    assert 0 < res["low"] < res["diff"] < res["high"]
    # No resample goes below 0, so p hits its floor 2 / (n_boot + 1) from the +1 correction.
    assert res["p_value"] == pytest.approx(2 / 1001)
    # Swapping A and B mirrors the interval and keeps the p-value.
    swapped = paired_bootstrap(t, bad, good, ACC, n_boot=1000, confidence=0.95, seed=0)
    assert swapped["diff"] == pytest.approx(-res["diff"])
    assert swapped["low"] == pytest.approx(-res["high"]) and swapped["high"] == pytest.approx(-res["low"])
    assert swapped["p_value"] == res["p_value"]


def test_paired_bootstrap_p_value_is_large_for_equal_models():
    rng = np.random.default_rng(5)
    n = 400
    t = rng.integers(0, 8, size=n)
    a = np.where(rng.random(n) < 0.6, t, (t + 1) % 8)
    b = np.where(rng.random(n) < 0.6, t, (t + 1) % 8)
    res = paired_bootstrap(t, a, b, ACC, n_boot=1000, confidence=0.95, seed=0)
    if res["low"] < 0 < res["high"]:
        assert res["p_value"] > 0.05


def test_significance_sentence_better_and_not_significant():
    rng = np.random.default_rng(1)
    n = 300
    t = rng.integers(0, 8, size=n)
    good = np.where(rng.random(n) < 0.8, t, (t + 1) % 8)
    bad = np.where(rng.random(n) < 0.5, t, (t + 1) % 8)
    pr = paired_bootstrap(t, good, bad, ACC, n_boot=500, confidence=0.95, seed=0)
    mc = mcnemar(t, good, bad)
    s = significance_sentence("fusion", "plot-only", "accuracy", pr, mc)
    assert s.startswith("fusion is significantly better than plot-only on accuracy")
    assert "paired-bootstrap CI" in s and "McNemar" in s and f"{mc['b']} films" in s
    s_rev = significance_sentence(
        "plot-only", "fusion", "accuracy", paired_bootstrap(t, bad, good, ACC, 500), mc
    )
    assert "significantly worse" in s_rev

    same = paired_bootstrap(t, good, good, ACC, n_boot=200, confidence=0.95, seed=0)
    s_same = significance_sentence("a", "b", "accuracy", same, mcnemar(t, good, good))
    assert "not significantly" in s_same and "significantly better" not in s_same


def test_significance_sentence_never_claims_significance_when_ci_includes_zero():
    fake = {"diff": 0.05, "low": -0.01, "high": 0.11, "p_value": 0.001, "confidence": 0.95}
    mc = {
        "b": 30,
        "c": 5,
        "statistic": 16.5,
        "p_value": 0.0001,
        "method": "chi-square with continuity correction",
    }
    s = significance_sentence("a", "b", "f1_macro", fake, mc)
    assert "not significantly" in s and "is significantly" not in s
    assert "[-0.0100, +0.1100]" in s


def test_significance_sentence_lower_is_better_metric():
    # A has the lower class error, so a negative difference means A is better.
    res = {"diff": -0.4, "low": -0.6, "high": -0.2, "p_value": 0.002, "confidence": 0.95}
    s = significance_sentence("a", "b", "mae_class", res, None)
    assert s.startswith("a is significantly better than b on mae_class")
    assert "McNemar" not in s


def test_ece_of_calibrated_and_overconfident_probabilities():
    rng = np.random.default_rng(0)
    n = 20000
    logits = rng.normal(0, 2, size=(n, 4))
    probs = softmax(logits, axis=1)
    # Draw each label from the model's own distribution: calibrated by construction.
    y = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    assert expected_calibration_error(probs, y) < 0.02
    sharp = softmax(logits * 4, axis=1)
    assert expected_calibration_error(sharp, y) > 0.15


def test_ece_and_reliability_curve_by_hand():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.75, 0.25], [0.6, 0.4]])
    y = np.array([0, 0, 1, 1, 0])
    # Bins (lo, hi] of width 0.25: confidences 0.9 and 0.8 -> bin 3 (acc 1/2); 0.7, 0.75, 0.6 -> bin 2
    # (acc 2/3, mean confidence 0.68333). ECE = 2/5 * |0.5 - 0.85| + 3/5 * |2/3 - 0.68333| = 0.14 + 0.01.
    curve = reliability_curve(probs, y, n_bins=4)
    assert curve["bin_edges"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve["count"] == [0, 0, 3, 2]
    assert curve["confidence"][:2] == [None, None] and curve["accuracy"][:2] == [None, None]
    assert curve["confidence"][2] == pytest.approx(2.05 / 3)
    assert curve["accuracy"][2:] == pytest.approx([2 / 3, 0.5])
    assert expected_calibration_error(probs, y, n_bins=4) == pytest.approx(0.15)


def nll(probs, y):
    return float(-np.mean(np.log(probs[np.arange(len(y)), y])))


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_temperature_scaling_recovers_known_temperature(true_t):
    rng = np.random.default_rng(0)
    n = 20000
    z = rng.normal(0, 2, size=(n, 5))
    # Labels come from softmax(z); the model reports logits z * T, so dividing by T restores calibration.
    y = (rng.random(n)[:, None] > np.cumsum(softmax(z, axis=1), axis=1)).sum(axis=1)
    model_logits = z * true_t
    fitted = fit_temperature(model_logits, y)
    assert fitted == pytest.approx(true_t, rel=0.05)
    before = nll(apply_temperature(model_logits, 1.0), y)
    after = nll(apply_temperature(model_logits, fitted), y)
    assert after < before


@pytest.mark.parametrize("seed", range(5))
def test_temperature_scaling_never_increases_nll(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    logits = rng.normal(0, rng.uniform(0.1, 10), size=(n, 8))
    y = rng.integers(0, 8, size=n)
    fitted = fit_temperature(logits, y)
    assert fitted > 0
    assert nll(apply_temperature(logits, fitted), y) <= nll(apply_temperature(logits, 1.0), y) + 1e-12


def test_temperature_degenerate_inputs():
    assert fit_temperature(np.zeros((0, 8)), np.zeros(0, dtype=int)) == 1.0
    assert fit_temperature(np.ones((10, 8)), np.zeros(10, dtype=int)) == 1.0  # constant rows
    assert fit_temperature(np.zeros((4, 1)), np.zeros(4, dtype=int)) == 1.0  # one class
    bad = np.zeros((3, 4))
    bad[0, 0] = np.nan
    assert fit_temperature(bad, np.zeros(3, dtype=int)) == 1.0
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3, 4)), np.array([0, 1, 4]))


def test_apply_temperature_is_stable_softmax():
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [-5000.0, -5000.0, -4999.0]])
    for T in (0.1, 1.0, 3.0):
        probs = apply_temperature(logits, T)
        assert np.all(np.isfinite(probs))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
        np.testing.assert_allclose(probs, softmax(logits / T, axis=1), rtol=1e-12, atol=1e-300)
    for bad_t in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            apply_temperature(logits, bad_t)


def test_mean_std():
    folds = [
        {"accuracy": 0.5, "qwk": 0.1, "confusion_matrix": [[1]], "n": 10},
        {"accuracy": 0.7, "qwk": 0.3, "confusion_matrix": [[2]], "n": 12},
        {"accuracy": 0.6, "qwk": 0.2, "confusion_matrix": [[3]], "n": 11},
    ]
    out = mean_std(folds)
    assert set(out) == {"accuracy", "qwk", "n"}
    assert out["accuracy"][0] == pytest.approx(0.6)
    assert out["accuracy"][1] == pytest.approx(0.1)  # sample std (ddof=1)
    assert out["n"] == pytest.approx((11.0, 1.0))
    single = mean_std(folds[:1])
    assert single["qwk"] == (0.1, 0.0)
    with pytest.raises(KeyError):
        mean_std([{"accuracy": 0.5}, {"qwk": 0.2}])
    with pytest.raises(ValueError):
        mean_std([])
