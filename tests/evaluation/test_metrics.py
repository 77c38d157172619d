import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from reelcast.data.classes import CLASS_NAMES
from reelcast.evaluation.metrics import (
    LOWER_IS_BETTER,
    SCALAR_METRICS,
    brier,
    classification_metrics,
    confusion_matrix,
    f1_macro,
    log_loss,
    mae_class,
    metric_fns,
    one_away_accuracy,
    qwk,
)

LABELS = list(range(8))


def sklearn_reference(t, p, num_classes=8):
    labels = list(range(num_classes))
    ref = {"accuracy": skm.accuracy_score(t, p)}
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = skm.precision_recall_fscore_support(t, p, labels=labels, average=avg, zero_division=0)
        ref[f"precision_{avg}"], ref[f"recall_{avg}"], ref[f"f1_{avg}"] = pr, rc, f1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref["qwk"] = skm.cohen_kappa_score(t, p, labels=labels, weights="quadratic")
    return ref


def random_case(seed, n, num_classes=8, present=None):
    rng = np.random.default_rng(seed)
    classes = np.arange(num_classes) if present is None else np.asarray(present)
    t = rng.choice(classes, size=n)
    # Predictions correlated with the truth (noisy ordinal shift), clipped into range.
    p = np.clip(t + rng.integers(-2, 3, size=n), 0, num_classes - 1)
    return t, p


@pytest.mark.parametrize("seed,n", [(0, 50), (1, 500), (2, 13), (3, 2000)])
def test_scalar_metrics_match_sklearn_on_random_inputs(seed, n):
    t, p = random_case(seed, n)
    got = classification_metrics(t, p)
    ref = sklearn_reference(t, p)
    for key, val in ref.items():
        assert got[key] == pytest.approx(val, abs=1e-12), key
    assert np.array_equal(np.array(got["confusion_matrix"]), skm.confusion_matrix(t, p, labels=LABELS))


def test_absent_classes_match_sklearn_and_count_as_zero_in_macro():
    # Truth never holds classes 0, 6, 7; the model predicts 7 but never 0 or 6.
    t, p = random_case(4, 300, present=[1, 2, 3, 4, 5])
    p[:10] = 7
    got = classification_metrics(t, p)
    ref = sklearn_reference(t, p)
    for key, val in ref.items():
        assert got[key] == pytest.approx(val, abs=1e-12), key
    per = {row["class"]: row for row in got["per_class"]}
    for k in (0, 6):
        assert per[k]["support"] == 0
        assert per[k]["precision"] == per[k]["recall"] == per[k]["f1"] == 0.0
    assert per[7]["support"] == 0 and per[7]["precision"] == 0.0
    # Macro F1 divides by all 8 classes, absent ones included.
    assert got["f1_macro"] == pytest.approx(sum(r["f1"] for r in got["per_class"]) / 8)


def test_per_class_report_matches_sklearn():
    t, p = random_case(5, 400)
    got = classification_metrics(t, p)["per_class"]
    pr, rc, f1, sup = skm.precision_recall_fscore_support(t, p, labels=LABELS, average=None, zero_division=0)
    assert [row["name"] for row in got] == CLASS_NAMES
    assert [row["class"] for row in got] == LABELS
    np.testing.assert_allclose([r["precision"] for r in got], pr, atol=1e-12)
    np.testing.assert_allclose([r["recall"] for r in got], rc, atol=1e-12)
    np.testing.assert_allclose([r["f1"] for r in got], f1, atol=1e-12)
    assert [r["support"] for r in got] == sup.tolist()


def test_small_case_by_hand():
    t = [0, 0, 1, 2]
    p = [0, 1, 1, 0]
    m = classification_metrics(t, p, num_classes=3)
    assert m["accuracy"] == 0.5
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    # Per class: precision 1/2, 1/2, 0 (class 2 never predicted); recall 1/2, 1, 0; F1 1/2, 2/3, 0.
    assert m["precision_macro"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert m["recall_macro"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert m["f1_macro"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert m["f1_weighted"] == pytest.approx((2 * 0.5 + 1 * 2 / 3 + 1 * 0) / 4)
    # |errors| = 0, 1, 0, 2.
    assert m["one_away_accuracy"] == 0.75
    assert m["mae_class"] == 0.75
    # Observed weighted disagreement 1*1 + 1*4 = 5; chance expectation 16/4 = 4; kappa = 1 - 5/4.
    assert m["qwk"] == pytest.approx(-0.25)
    assert m["per_class"][2]["name"] == CLASS_NAMES[2]


def test_one_away_and_mae_by_hand():
    t = np.array([0, 3, 7, 5, 2, 4])
    p = np.array([1, 3, 4, 7, 2, 3])  # errors 1, 0, 3, 2, 0, 1
    assert one_away_accuracy(t, p) == pytest.approx(4 / 6)
    assert mae_class(t, p) == pytest.approx(7 / 6)


def test_single_class_edge_case():
    t = np.full(20, 3)
    m = classification_metrics(t, t)
    assert m["accuracy"] == 1.0 and m["one_away_accuracy"] == 1.0 and m["mae_class"] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(skm.cohen_kappa_score(t, t, labels=LABELS, weights="quadratic"))
    assert m["qwk"] == 0.0  # defined as 0 where sklearn gives nan
    # Only class 3 is present: F1 1 there, 0 for the seven absent classes.
    assert m["f1_macro"] == pytest.approx(1 / 8)
    assert m["f1_weighted"] == 1.0
    ref = sklearn_reference(t, t)
    for key in ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro"):
        assert m[key] == pytest.approx(ref[key]), key


def test_qwk_constant_truth_with_varied_predictions_matches_sklearn():
    t = np.full(10, 2)
    p = np.array([0, 1, 2, 2, 3, 4, 2, 2, 7, 2])
    assert qwk(t, p) == pytest.approx(
        skm.cohen_kappa_score(t, p, labels=LABELS, weights="quadratic"), abs=1e-12
    )


def test_qwk_perfect_and_reversed():
    t = np.arange(8).repeat(3)
    assert qwk(t, t) == pytest.approx(1.0)
    assert qwk(t, 7 - t) == pytest.approx(skm.cohen_kappa_score(t, 7 - t, weights="quadratic"))
    assert qwk(t, 7 - t) < -0.9


@pytest.mark.parametrize("seed", range(3))
def test_f1_macro_is_sklearns_macro_f1(seed):
    # The one macro-F1 of the project (training's model selection reads the same number as the report).
    t, p = random_case(seed, 150)
    ref = skm.f1_score(t, p, labels=LABELS, average="macro", zero_division=0)
    assert f1_macro(t, p) == pytest.approx(ref, abs=1e-12)
    assert metric_fns()["f1_macro"](t, p) == f1_macro(t, p)


def test_metric_fns_agree_with_classification_metrics():
    fns = metric_fns()
    assert list(fns) == SCALAR_METRICS
    for seed in range(3):
        t, p = random_case(10 + seed, 200)
        full = classification_metrics(t, p)
        for name, fn in fns.items():
            assert fn(t, p) == pytest.approx(full[name], abs=1e-15), name


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix([0, 0, 1], [1, 1, 1], num_classes=3)
    assert cm.tolist() == [[0, 2, 0], [0, 1, 0], [0, 0, 0]]


def test_input_validation():
    with pytest.raises(ValueError):
        classification_metrics([0, 8], [0, 1])
    with pytest.raises(ValueError):
        classification_metrics([0, -1], [0, 1])
    with pytest.raises(ValueError):
        classification_metrics([0, 1, 2], [0, 1])
    with pytest.raises(ValueError):
        classification_metrics([], [])
    with pytest.raises(ValueError):
        classification_metrics([0.5, 1.0], [0, 1])
    # Integral floats are accepted.
    assert classification_metrics([0.0, 1.0], [0, 1])["accuracy"] == 1.0


def test_log_loss_and_brier_by_hand():
    probs = np.array([[0.5, 0.5], [0.25, 0.75]])
    y = np.array([0, 1])
    assert log_loss(y, probs) == pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2)
    assert brier(y, probs) == pytest.approx((0.25 + 0.25 + 0.0625 + 0.0625) / 2)
    assert brier([0], [[1.0, 0.0]]) == 0.0
    assert brier([1], [[1.0, 0.0]]) == 2.0


@pytest.mark.parametrize("seed", [0, 1])
def test_probability_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(8) * 0.7, size=300)
    y = rng.integers(0, 8, size=300)
    y[:3] = [0, 0, 0]
    probs[0] = np.eye(8)[1]  # a confident miss: clipped, finite
    probs[1] = np.eye(8)[0]  # a confident hit
    assert log_loss(y, probs) == pytest.approx(skm.log_loss(y, probs, labels=LABELS), abs=1e-12)
    assert brier(y, probs) == pytest.approx(skm.brier_score_loss(y, probs, labels=LABELS), abs=1e-12)


def test_probability_input_validation():
    with pytest.raises(ValueError):
        log_loss([0, 1], [[2.0, -1.0], [0.0, 1.0]])  # logits, not probabilities
    with pytest.raises(ValueError):
        brier([0, 2], [[0.5, 0.5], [0.5, 0.5]])  # class outside columns
    with pytest.raises(ValueError):
        brier([0], [[0.7, 0.7]])  # rows must sum to 1


def test_lower_is_better_names():
    assert {"mae_class", "log_loss", "brier"} <= LOWER_IS_BETTER
    assert "accuracy" not in LOWER_IS_BETTER and "qwk" not in LOWER_IS_BETTER
