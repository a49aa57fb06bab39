"""Metrics against hand-computed values, limiting cases and brute force (numpy, fixed seeds)."""

import itertools
import json
import math
import re

import numpy as np
import pytest

from gan_tf import metrics
from gan_tf.errors import UserError


def normal(seed, shape, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, size=shape)


# === Frechet distance ===


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = normal(0, (300, 8))
    assert metrics.frechet_distance(features, features) < 1e-6
    assert metrics.frechet_distance(features, features.astype(np.float32)) < 1e-6


def test_frechet_distance_to_shifted_noise_is_near_the_gaussian_value():
    # N(0, I) vs N(3, 4 I) in 8-D: 8 * 3^2 + 8 * (1 + 4 - 2 * sqrt(1 * 4)) = 72 + 8 = 80.
    real, fake = normal(0, (2000, 8)), normal(1, (2000, 8), loc=3.0, scale=2.0)
    assert metrics.frechet_distance(real, fake) == pytest.approx(80.0, rel=0.1)
    assert metrics.frechet_distance(real, normal(2, (2000, 8))) < 0.1


def test_frechet_distance_of_one_dimensional_gaussians():
    # N(0, 1) vs N(2, 9): (0 - 2)^2 + 1 + 9 - 2 * sqrt(1 * 9) = 8.
    value = metrics.frechet_distance_from_statistics([0.0], [[1.0]], [2.0], [[9.0]])
    assert value == pytest.approx(8.0, abs=1e-12)


def test_frechet_distance_of_diagonal_covariances():
    mu1, mu2 = [0.0, 1.0, 2.0], [1.0, 1.0, 0.0]
    s1, s2 = [1.0, 4.0, 9.0], [4.0, 1.0, 1.0]
    expected = (sum((a - b) ** 2 for a, b in zip(mu1, mu2)) + sum(s1) + sum(s2)
                - 2 * sum(math.sqrt(a * b) for a, b in zip(s1, s2)))
    assert expected == 11.0
    value = metrics.frechet_distance_from_statistics(mu1, np.diag(s1), mu2, np.diag(s2))
    assert value == pytest.approx(expected, abs=1e-12)


def test_frechet_distance_of_non_commuting_covariances():
    # For a 2x2 matrix P with positive eigenvalues, tr(sqrt(P)) = sqrt(tr(P) + 2 sqrt(det(P))).
    # S1 S2 = [[2, 3], [1, 6]]: trace 8, determinant 9, so tr(sqrt(S1 S2)) = sqrt(14).
    sigma1, sigma2 = [[2.0, 1.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 3.0]]
    expected = 4.0 + 4.0 - 2 * math.sqrt(14.0)
    value = metrics.frechet_distance_from_statistics([0.0, 0.0], sigma1, [0.0, 0.0], sigma2)
    assert value == pytest.approx(expected, abs=1e-12)


def test_frechet_distance_of_singular_covariances_is_finite():
    # Fewer samples than features: rank-deficient covariances (common with 2048-D features).
    real, fake = normal(0, (10, 32)), normal(1, (10, 32))
    value = metrics.frechet_distance(real, fake)
    assert math.isfinite(value) and value > 0
    assert metrics.frechet_distance(real, real) < 1e-6


def test_frechet_distance_uses_feature_statistics():
    real, fake = normal(0, (50, 3)), normal(1, (60, 3), loc=1.0)
    mean, covariance = metrics.feature_statistics(real)
    np.testing.assert_allclose(mean, real.mean(axis=0))
    np.testing.assert_allclose(covariance, np.cov(real.T))
    assert metrics.frechet_distance(real, fake) == pytest.approx(
        metrics.frechet_distance_from_statistics(mean, covariance,
                                                 *metrics.feature_statistics(fake)))
    mean, covariance = metrics.feature_statistics(real[:, :1])
    assert mean.shape == (1,) and covariance.shape == (1, 1)


def test_metrics_accept_tensorflow_tensors():
    import tensorflow as tf

    features = normal(0, (40, 4)).astype(np.float32)
    assert metrics.frechet_distance(tf.constant(features), features) < 1e-6
    assert metrics.precision_recall(tf.constant(features), tf.constant(features)) == {
        "precision": 1.0, "recall": 1.0}


# === Kernel distance ===


def test_kernel_inception_distance_matches_the_unbiased_mmd_by_hand():
    # One subset holding every sample: MMD^2 does not depend on the order, so it equals the
    # estimate over the whole sets, written here as plain loops.
    real, fake = normal(0, (6, 3)), normal(1, (6, 3), loc=0.5)

    def kernel(x, y):
        return (sum(a * b for a, b in zip(x, y)) / 3 + 1) ** 3

    m = 6
    within = sum(kernel(real[i], real[j]) + kernel(fake[i], fake[j])
                 for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    across = sum(kernel(real[i], fake[j]) for i in range(m) for j in range(m)) / m ** 2
    mean, std = metrics.kernel_inception_distance(real, fake, num_subsets=3, subset_size=100)
    assert mean == pytest.approx(within - 2 * across, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kernel_inception_distance_is_near_zero_for_one_distribution():
    real, fake = normal(0, (400, 16)), normal(1, (400, 16))
    mean, std = metrics.kernel_inception_distance(real, fake, num_subsets=20, subset_size=200)
    assert std > 0
    assert abs(mean) < max(std, 1e-3)


def test_kernel_inception_distance_is_positive_for_shifted_samples():
    real, fake = normal(0, (400, 16)), normal(1, (400, 16), loc=1.0)
    mean, std = metrics.kernel_inception_distance(real, fake, num_subsets=20, subset_size=200)
    same, _ = metrics.kernel_inception_distance(real, normal(2, (400, 16)), num_subsets=20,
                                                subset_size=200)
    assert mean > 0.5 and mean > 10 * std
    assert mean > 100 * abs(same)


def test_kernel_inception_distance_is_deterministic_for_a_seed():
    real, fake = normal(0, (100, 4)), normal(1, (80, 4), loc=0.2)
    first = metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=30, seed=3)
    again = metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=30, seed=3)
    other = metrics.kernel_inception_distance(real, fake, num_subsets=5, subset_size=30, seed=4)
    assert first == again
    assert first != other


# === Inception score ===


def test_inception_score_of_identical_rows_is_one():
    probabilities = np.tile([0.1, 0.6, 0.3], (50, 1))
    assert metrics.inception_score(probabilities, num_splits=5) == pytest.approx((1.0, 0.0))


def test_inception_score_of_confident_uniform_predictions_is_the_number_of_classes():
    one_hot = np.eye(10)[np.arange(200) % 10]
    assert metrics.inception_score(one_hot, num_splits=1) == pytest.approx((10.0, 0.0))


@pytest.mark.parametrize("order", ["interleaved", "by_class"])
def test_inception_score_splits_mix_classes_whatever_the_order(order):
    # Samples generated class by class (in blocks or interleaved with period num_splits)
    # would give each split one class, and a score of 1, without the shuffle.
    labels = np.arange(2000) % 10 if order == "interleaved" else np.repeat(np.arange(10), 200)
    mean, std = metrics.inception_score(np.eye(10)[labels], num_splits=10)
    assert mean == pytest.approx(10.0, rel=0.03) and mean <= 10.0
    assert 0 < std < 0.3
    assert metrics.inception_score(np.eye(10)[labels], num_splits=10, seed=0) == (mean, std)
    assert metrics.inception_score(np.eye(10)[labels], num_splits=10, seed=1) != (mean, std)


def test_inception_score_hand_computed():
    probabilities = [[1.0, 0.0], [0.5, 0.5]]
    marginal = [0.75, 0.25]
    kl_first = math.log(1.0 / marginal[0])
    kl_second = 0.5 * math.log(0.5 / marginal[0]) + 0.5 * math.log(0.5 / marginal[1])
    expected = math.exp((kl_first + kl_second) / 2)
    mean, std = metrics.inception_score(probabilities, num_splits=1)
    assert mean == pytest.approx(expected, rel=1e-9) and std == 0.0
    assert metrics.classifier_score(probabilities, num_splits=1) == (mean, std)


# === Distances and neighbours ===


@pytest.mark.parametrize("chunk_size", [1, 8, 1000])
def test_pairwise_distances_in_chunks_equal_brute_force(chunk_size):
    a, b = normal(0, (37, 5)), normal(1, (23, 5), loc=2.0)
    brute = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))
    np.testing.assert_allclose(metrics.pairwise_distances(a, b, chunk_size=chunk_size), brute,
                               rtol=1e-10, atol=1e-10)


def test_nearest_neighbour_of_an_exact_copy_is_that_sample():
    train = normal(0, (50, 6), scale=10.0)
    fakes = np.concatenate([train[[7, 3, 42]], normal(1, (20, 6), scale=10.0)])
    distances, indices = metrics.nearest_neighbour_distances(fakes, train, chunk_size=4)
    assert distances[:3].tolist() == [0.0, 0.0, 0.0]
    assert indices[:3].tolist() == [7, 3, 42]
    brute = np.sqrt(((fakes[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1))
    np.testing.assert_array_equal(indices, brute.argmin(axis=1))
    np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-12)


def test_memorization_report_flags_copies_and_passes_fresh_samples():
    train, holdout = normal(0, (500, 4)), normal(1, (200, 4))
    copies = metrics.memorization_report(train[:100], train, holdout)
    assert copies["median_ratio"] == 0.0
    assert copies["num_copies"] == 100 and copies["close_fraction"] == 1.0
    assert set(copies["closest_fake_indices"]) <= set(range(100))

    fresh = metrics.memorization_report(normal(2, (200, 4)), train, holdout)
    assert 0.8 < fresh["median_ratio"] < 1.25
    assert fresh["num_copies"] == 0
    assert fresh["close_fraction"] < 0.05 and fresh["expected_close_fraction"] == 0.01
    assert fresh["threshold"] == pytest.approx(np.percentile(
        metrics.nearest_neighbour_distances(holdout, train)[0], 1.0))
    json.dumps(fresh)


# === Precision, recall, density, coverage ===


def test_precision_recall_of_identical_sets_is_one():
    features = normal(0, (200, 8))
    assert metrics.precision_recall(features, features.copy(), k=3) == {
        "precision": 1.0, "recall": 1.0}


def test_precision_recall_of_far_away_fakes_is_zero():
    real, fake = normal(0, (200, 8)), normal(1, (200, 8), loc=100.0)
    assert metrics.precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_of_a_dropped_mode():
    # Real data: two clusters. Fakes: only the first. Every fake looks real (precision ~1)
    # but half the real data is not covered (recall ~0.5).
    real = np.concatenate([normal(0, (200, 2), loc=-10.0), normal(1, (200, 2), loc=10.0)])
    fake = normal(2, (200, 2), loc=-10.0)
    result = metrics.precision_recall(real, fake, k=3, chunk_size=64)
    assert result["precision"] > 0.95
    assert 0.45 < result["recall"] < 0.52


def test_manifold_metrics_hand_computed_in_one_dimension():
    # k = 1. Real radii: |0-1| = 1, |1-0| = 1, |3-1| = 2. Fake radii: |0.5-10| = 9.5 each.
    real, fake = [[0.0], [1.0], [3.0]], [[0.5], [10.0]]
    # Precision: 0.5 lies in the ball of 0; 10 lies in no real ball. Recall: every real point
    # is within 9.5 of 0.5.
    assert metrics.precision_recall(real, fake, k=1) == {"precision": 0.5, "recall": 1.0}
    # Density: 0.5 is strictly inside the balls of 0 and 1 -> 2 / (k * 2 fakes) = 1.
    # Coverage: the balls of 0 and 1 hold a fake, that of 3 (radius 2, nearest fake 2.5) none.
    result = metrics.density_coverage(real, fake, k=1)
    assert result == pytest.approx({"density": 1.0, "coverage": 2 / 3})


def test_density_coverage_of_identical_sets():
    features = normal(0, (300, 8))
    result = metrics.density_coverage(features, features.copy(), k=5)
    assert result["density"] == pytest.approx(1.0, abs=0.02)
    assert result["coverage"] == 1.0


def test_density_coverage_of_far_away_fakes_and_a_dropped_mode():
    real = np.concatenate([normal(0, (200, 2), loc=-10.0), normal(1, (200, 2), loc=10.0)])
    far = metrics.density_coverage(real, normal(2, (100, 2), loc=100.0))
    assert far == {"density": 0.0, "coverage": 0.0}
    dropped = metrics.density_coverage(real, normal(3, (200, 2), loc=-10.0), chunk_size=50)
    assert 0.4 < dropped["coverage"] <= 0.5
    assert dropped["density"] > 0.7


# === Class coverage ===


def test_constant_generator_covers_one_class_and_is_collapsed():
    result = metrics.class_coverage(np.full(500, 3), num_classes=10)
    assert result["covered"] == 1 and result["coverage"] == 0.1
    assert result["collapsed"] is True
    assert result["entropy"] == 0.0
    assert result["histogram"] == [0, 0, 0, 500, 0, 0, 0, 0, 0, 0]
    json.dumps(result)


def test_balanced_predictions_cover_every_class():
    result = metrics.class_coverage(np.arange(1000) % 10, num_classes=10)
    assert result["covered"] == 10 and result["coverage"] == 1.0
    assert result["collapsed"] is False
    assert result["entropy"] == pytest.approx(1.0)
    assert result["min_fraction"] == 0.05


def test_a_rare_class_counts_as_missing():
    # Class 9 has 2% of the predictions, below half its fair share (5%).
    labels = np.concatenate([np.arange(980) % 9, np.full(20, 9)])
    result = metrics.class_coverage(labels, num_classes=10)
    assert result["covered"] == 9 and result["collapsed"] is True
    assert 0.9 < result["entropy"] < 1.0
    relaxed = metrics.class_coverage(labels, num_classes=10, min_fraction=0.01)
    assert relaxed["covered"] == 10 and relaxed["collapsed"] is False


def test_class_histogram_counts():
    counts = metrics.class_histogram([0, 2, 2, 4, 2], num_classes=5)
    assert counts.tolist() == [1, 0, 3, 0, 1]
    assert metrics.class_histogram(np.array([1.0, 1.0]), num_classes=3).tolist() == [0, 2, 0]


# === Validation ===

GOOD = normal(0, (20, 4))
FEW = normal(1, (3, 4))
LABELS = np.arange(20) % 5
PROBABILITIES = np.full((20, 4), 0.25)
NAN = GOOD.copy()
NAN[3, 1] = np.nan


def _raise(function, *args, **kwargs):
    return lambda: function(*args, **kwargs)


INVALID_CALLS = [
    ("real_features", _raise(metrics.frechet_distance, GOOD[:, 0], GOOD)),
    ("real_features", _raise(metrics.frechet_distance, GOOD[:1], GOOD)),
    ("real_features", _raise(metrics.frechet_distance, NAN, GOOD)),
    ("real_features", _raise(metrics.frechet_distance, "features", GOOD)),
    ("real_features", _raise(metrics.frechet_distance, np.zeros((5, 0)), GOOD)),
    ("fake_features", _raise(metrics.frechet_distance, GOOD, GOOD[:, :3])),
    ("fake_features", _raise(metrics.frechet_distance, GOOD, GOOD[:, :, None])),
    ("features", _raise(metrics.feature_statistics, GOOD[:1])),
    ("mu1", _raise(metrics.frechet_distance_from_statistics, [[0.0]], [[1.0]], [0.0], [[1.0]])),
    ("mu2", _raise(metrics.frechet_distance_from_statistics, [0.0], [[1.0]], [0.0, 1.0],
                   [[1.0]])),
    ("sigma1", _raise(metrics.frechet_distance_from_statistics, [0.0, 0.0], np.eye(3),
                      [0.0, 0.0], np.eye(2))),
    ("sigma2", _raise(metrics.frechet_distance_from_statistics, [0.0, 0.0], np.eye(2),
                      [0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]])),
    ("sigma2", _raise(metrics.frechet_distance_from_statistics, [0.0], [[1.0]], [0.0],
                      [[np.inf]])),
    ("fake_features", _raise(metrics.kernel_inception_distance, GOOD, GOOD[:1])),
    ("fake_features", _raise(metrics.kernel_inception_distance, GOOD, GOOD[:, :2])),
    ("num_subsets", _raise(metrics.kernel_inception_distance, GOOD, GOOD, num_subsets=0)),
    ("subset_size", _raise(metrics.kernel_inception_distance, GOOD, GOOD, subset_size=1)),
    ("subset_size", _raise(metrics.kernel_inception_distance, GOOD, GOOD, subset_size=2.5)),
    ("seed", _raise(metrics.kernel_inception_distance, GOOD, GOOD, seed=-1)),
    ("seed", _raise(metrics.kernel_inception_distance, GOOD, GOOD, seed=None)),
    ("probabilities", _raise(metrics.inception_score, PROBABILITIES - 0.3)),
    ("probabilities", _raise(metrics.inception_score, PROBABILITIES * 2)),
    ("probabilities", _raise(metrics.inception_score, PROBABILITIES[None])),
    ("num_splits", _raise(metrics.inception_score, PROBABILITIES, num_splits=21)),
    ("num_splits", _raise(metrics.inception_score, PROBABILITIES, num_splits=0)),
    ("seed", _raise(metrics.inception_score, PROBABILITIES, seed="0")),
    ("probabilities", _raise(metrics.classifier_score, -PROBABILITIES)),
    ("k", _raise(metrics.precision_recall, GOOD, GOOD, k=0)),
    ("k", _raise(metrics.precision_recall, GOOD, GOOD, k=True)),
    ("real_features", _raise(metrics.precision_recall, FEW, GOOD, k=3)),
    ("fake_features", _raise(metrics.precision_recall, GOOD, FEW, k=3)),
    ("chunk_size", _raise(metrics.precision_recall, GOOD, GOOD, chunk_size=0)),
    ("k", _raise(metrics.density_coverage, GOOD, GOOD, k="5")),
    ("real_features", _raise(metrics.density_coverage, FEW, GOOD, k=5)),
    ("fake_features", _raise(metrics.density_coverage, GOOD, GOOD[:0], k=5)),
    ("a", _raise(metrics.pairwise_distances, GOOD[0], GOOD)),
    ("b", _raise(metrics.pairwise_distances, GOOD, GOOD[:, :2])),
    ("chunk_size", _raise(metrics.pairwise_distances, GOOD, GOOD, chunk_size=-1)),
    ("fake_features", _raise(metrics.nearest_neighbour_distances, GOOD[:0], GOOD)),
    ("fake_features", _raise(metrics.nearest_neighbour_distances, GOOD[:, :3], GOOD)),
    ("real_holdout_features", _raise(metrics.memorization_report, GOOD, GOOD, GOOD)),
    ("real_holdout_features", _raise(metrics.memorization_report, GOOD, GOOD, FEW[:, :2])),
    ("percentile", _raise(metrics.memorization_report, GOOD, GOOD, FEW, percentile=100)),
    ("train_features", _raise(metrics.memorization_report, GOOD, NAN, FEW)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS[None], 5)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS[:0], 5)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS + 1, 5)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS - 1, 5)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS + 0.5, 6)),
    ("predicted_labels", _raise(metrics.class_histogram, LABELS > 2, 5)),
    ("num_classes", _raise(metrics.class_histogram, LABELS, 0)),
    ("num_classes", _raise(metrics.class_coverage, LABELS * 0, 1)),
    ("min_fraction", _raise(metrics.class_coverage, LABELS, 5, min_fraction=0)),
    ("min_fraction", _raise(metrics.class_coverage, LABELS, 5, min_fraction=1.5)),
]


@pytest.mark.parametrize("argument,call", INVALID_CALLS,
                         ids=[f"{i}-{name}" for i, (name, _) in enumerate(INVALID_CALLS)])
def test_invalid_input_raises_a_user_error_naming_the_argument(argument, call):
    pattern = rf"^Invalid value for argument {re.escape(argument)}\. Received: {argument}="
    with pytest.raises(UserError, match=pattern) as caught:
        call()
    assert "Expected" in str(caught.value)


def test_core_scores_are_the_metrics_they_name():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 8)), rng.normal(0.3, 1.0, size=(200, 8))
    probabilities = np.eye(4)[np.arange(200) % 3]  # classes 0, 1, 2 of 4
    scores = metrics.core_scores(real, fake, probabilities, 4, requested_labels=np.zeros(200),
                                 seed=5)
    assert scores["fd"] == metrics.frechet_distance(real, fake)
    assert scores["kid"] == metrics.kernel_inception_distance(
        real, fake, num_subsets=metrics.KID_SUBSETS, subset_size=200, seed=5)
    assert scores["kid_subset_size"] == 200  # min(KID_SUBSET_SIZE, both sample counts)
    assert scores["class_coverage"]["covered"] == 3
    assert scores["requested_class_accuracy"] == pytest.approx(67 / 200)  # the class-0 ones
    assert "class_coverage" not in metrics.core_scores(real, fake)



def test_pixel_distances_spread_and_near_copies_by_hand():
    images = np.array([[[0.0, 0.0]], [[1.0, 1.0]], [[0.0, 0.1]]])  # three 1x2 "images"
    distances = metrics.pixel_distances(images)
    # rms over 2 pixels: sqrt((1 + 1) / 2) = 1, sqrt(0.01 / 2), sqrt((1 + 0.81) / 2)
    expected = np.array([[0.0, 1.0, np.sqrt(0.005)], [1.0, 0.0, np.sqrt(0.905)],
                         [np.sqrt(0.005), np.sqrt(0.905), 0.0]])
    np.testing.assert_allclose(distances, expected, atol=1e-12)
    assert metrics.mean_pairwise_distance(distances) == pytest.approx(
        2 * (1.0 + np.sqrt(0.005) + np.sqrt(0.905)) / 6)
    assert metrics.mean_pairwise_distance(distances[:1, :1]) == 0.0
    assert metrics.near_copy_fraction(distances, 0.1) == pytest.approx(2 / 3)  # images 0 and 2
    assert metrics.near_copy_fraction(distances, 0.05) == 0.0
    assert distances[0, 0] == 0.0  # the input matrix is not modified
