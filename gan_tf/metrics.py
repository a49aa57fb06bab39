"""Sample-quality metrics: pure functions on feature arrays (numpy only, no TensorFlow).

Every function takes features or class probabilities that a feature extractor has already
computed: `(num_samples, num_features)` arrays, numpy or TensorFlow tensors, converted with
`np.asarray` and computed in float64. Which extractor is up to the caller: the reference
Inception graph's pool features (`gan_tf.features.ReferenceInception`) make FID/KID comparable
with published numbers, a domain classifier (e.g. an MNIST classifier's penultimate layer) is
what makes sense for other data. Numbers are comparable only
between runs that use the same extractor and the same numbers of samples (FID is biased by
the sample count: fewer samples give a larger value).

Example:

```python
rng = np.random.default_rng(0)
real, fake = rng.normal(size=(500, 16)), rng.normal(0.5, 1.0, size=(500, 16))
frechet_distance(real, fake)           # ~ 16 * 0.5**2 = 4
kernel_inception_distance(real, fake)  # (mean, std) over subsets
precision_recall(real, fake, k=3)      # {"precision": ..., "recall": ...}
```

Distances between samples go through `pairwise_distances`, computed `chunk_size` rows at a
time, so 10,000 x 10,000 neighbour searches never hold more than a chunk of the matrix.
"""

import numpy as np

from gan_tf.errors import check_positive_int, check_seed, invalid

DEFAULT_CHUNK_SIZE = 1024
# KID as gan_tf reports it everywhere (training-time scores and `evaluate`): the mean and
# standard deviation over KID_SUBSETS random subsets of min(KID_SUBSET_SIZE, N) samples.
KID_SUBSETS = 50
KID_SUBSET_SIZE = 1000
_PROBABILITY_TOLERANCE = 1e-3  # how far a row of class probabilities may sum from 1
_LOG_EPSILON = 1e-12  # added inside the logs of the inception score


# === Frechet distance (FID) ===


def feature_statistics(features):
    """`(mean, covariance)` of `(N, d)` features: the Gaussian that FID fits to a sample set.

    The covariance is the unbiased estimate (divides by `N - 1`), as in the reference FID
    code. Store these to compare many generators against one real set.

    Args:
        features: `(N, d)` array with `N >= 2`.

    Returns:
        `mean` of shape `(d,)` and `covariance` of shape `(d, d)`, float64.
    """
    features = _features("features", features, min_samples=2)
    mean = features.mean(axis=0)
    covariance = np.atleast_2d(np.cov(features, rowvar=False))
    return mean, covariance


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2):
    """Frechet distance between `N(mu1, sigma1)` and `N(mu2, sigma2)`.

    `||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))`
    (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", 2017; Dowson and Landau, 1982).

    The trace of the matrix square root is computed without `scipy.linalg.sqrtm`, which
    returns complex values and fails on singular covariances. `sigma1 sigma2` is similar to
    the symmetric positive semi-definite `M = sigma1^(1/2) sigma2 sigma1^(1/2)`, so
    `tr((sigma1 sigma2)^(1/2)) = sum_i sqrt(lambda_i(M))`. `sigma1^(1/2)` comes from the
    eigendecomposition of `sigma1` (negative round-off eigenvalues clipped to 0), `M` is
    symmetrized, and its eigenvalues are clipped at 0 before the square root. The result is
    clipped at 0 (round-off can push a distance of zero slightly below it).

    Args:
        mu1, mu2: means, shape `(d,)`.
        sigma1, sigma2: symmetric covariances, shape `(d, d)`.

    Returns:
        The distance as a Python float, >= 0.
    """
    mu1 = _vector("mu1", mu1)
    mu2 = _vector("mu2", mu2)
    dim = mu1.shape[0]
    if mu2.shape[0] != dim:
        raise invalid("mu2", f"array of shape {mu2.shape}", f"shape ({dim},), like mu1")
    sigma1 = _covariance("sigma1", sigma1, dim)
    sigma2 = _covariance("sigma2", sigma2, dim)

    sqrt_sigma1 = _psd_sqrt(sigma1)
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    middle = 0.5 * (middle + middle.T)
    trace_sqrt_product = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum()
    difference = mu1 - mu2
    distance = (difference @ difference + np.trace(sigma1) + np.trace(sigma2)
                - 2.0 * trace_sqrt_product)
    return float(max(distance, 0.0))


def frechet_distance(real_features, fake_features):
    """FD: the Frechet distance between Gaussians fitted to two feature sets (FID on the
    reference Inception graph's features).

    `||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2))` with the means and
    covariances of `feature_statistics` (Heusel et al., 2017). It is the Frechet Inception
    Distance when the features are the reference Inception graph's pool features; lower is
    better, 0 for identical statistics. Biased upwards for small sample counts: compare values computed
    from the same number of samples (10,000 or more for published numbers).

    Args:
        real_features: `(N_real, d)` array, `N_real >= 2`.
        fake_features: `(N_fake, d)` array, `N_fake >= 2`, the same `d`.

    Returns:
        The distance as a Python float, >= 0.
    """
    real_features = _features("real_features", real_features, min_samples=2)
    fake_features = _features("fake_features", fake_features, min_samples=2)
    _check_same_dim(real_features, fake_features)
    mu1, sigma1 = feature_statistics(real_features)
    mu2, sigma2 = feature_statistics(fake_features)
    return frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2)


# === Kernel distance (KID) ===


def kernel_inception_distance(real_features, fake_features, num_subsets=100, subset_size=1000,
                              seed=0):
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets.

    `k(x, y) = (x . y / d + 1)^3` and, for subsets `X` (real) and `Y` (fake) of `m` samples
    each, drawn without replacement,
    `MMD^2 = sum_{i!=j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2`
    (Binkowski et al., "Demystifying MMD GANs", 2018; the same estimator as clean-fid and
    torch-fidelity). Unlike FID it is unbiased: its expectation is 0 when both sets come
    from one distribution, so small negative values happen. Lower is better.

    Args:
        real_features: `(N_real, d)` array, `N_real >= 2`.
        fake_features: `(N_fake, d)` array, `N_fake >= 2`, the same `d`.
        num_subsets: number of random subset pairs. Defaults to 100.
        subset_size: samples per subset, capped at `min(N_real, N_fake)`. Defaults to 1000.
        seed: non-negative int for `np.random.default_rng`; the same seed and inputs give
            the same result. Defaults to 0.

    Returns:
        `(mean, std)` of the subset estimates, Python floats (`std` with `ddof=0`, as in
        torch-fidelity). Report KID as `mean`, often scaled by 1000.
    """
    real_features = _features("real_features", real_features, min_samples=2)
    fake_features = _features("fake_features", fake_features, min_samples=2)
    _check_same_dim(real_features, fake_features)
    check_positive_int("num_subsets", num_subsets)
    check_positive_int("subset_size", subset_size)
    if subset_size < 2:
        raise invalid("subset_size", subset_size, "an integer >= 2 (the estimator pairs samples)")
    check_seed(seed)

    rng = np.random.default_rng(seed)
    size = min(subset_size, real_features.shape[0], fake_features.shape[0])
    dim = real_features.shape[1]
    estimates = np.empty(num_subsets)
    for index in range(num_subsets):
        x = real_features[rng.choice(real_features.shape[0], size, replace=False)]
        y = fake_features[rng.choice(fake_features.shape[0], size, replace=False)]
        k_xx = (x @ x.T / dim + 1.0) ** 3
        k_yy = (y @ y.T / dim + 1.0) ** 3
        k_xy = (x @ y.T / dim + 1.0) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        estimates[index] = within - 2.0 * k_xy.sum() / (size * size)
    return float(estimates.mean()), float(estimates.std())


# === Inception score ===


def inception_score(probabilities, num_splits=10, seed=0):
    """IS: `exp(E_x KL(p(y|x) || p(y)))`, mean and std over `num_splits` splits.

    Salimans et al., "Improved Techniques for Training GANs", 2016. `p(y|x)` is a row of
    `probabilities` and `p(y)` the mean row of its split;
    `KL = sum_y p(y|x) (log(p(y|x) + eps) - log(p(y) + eps))` with `eps = 1e-12`. It ranges
    from 1 (every sample gets the same prediction) to the number of classes (confident
    predictions spread evenly over all classes); higher is better.

    The rows are shuffled (a fixed permutation drawn from `seed`, as torch-fidelity does)
    before they are cut into `num_splits` near-equal contiguous parts, so samples generated
    class by class, in blocks or interleaved, still mix in every split. Use the same
    `num_splits` and sample count when comparing numbers (10 splits of 50,000 is customary).

    Args:
        probabilities: `(N, num_classes)` class probabilities (softmax outputs, not logits):
            non-negative, each row summing to 1 within 1e-3.
        num_splits: positive int, at most `N`. Defaults to 10.
        seed: non-negative int for the shuffle; the same seed and inputs give the same
            result. Defaults to 0. With `num_splits=1` the order does not matter.

    Returns:
        `(mean, std)` over the splits, Python floats (`std` with `ddof=0`).
    """
    probabilities = _features("probabilities", probabilities, min_samples=1)
    check_positive_int("num_splits", num_splits)
    if num_splits > probabilities.shape[0]:
        raise invalid("num_splits", num_splits,
                      f"at most the number of rows of probabilities ({probabilities.shape[0]})")
    if probabilities.min() < 0.0:
        raise invalid("probabilities", f"an array with minimum {probabilities.min():.4g}",
                      "class probabilities (softmax outputs, not logits): every value >= 0")
    row_sums = probabilities.sum(axis=1)
    worst = int(np.argmax(np.abs(row_sums - 1.0)))
    if abs(row_sums[worst] - 1.0) > _PROBABILITY_TOLERANCE:
        raise invalid("probabilities", f"an array whose row {worst} sums to {row_sums[worst]:.6g}",
                      "class probabilities (softmax outputs, not logits): every row sums to 1")
    check_seed(seed)

    shuffled = probabilities[np.random.default_rng(seed).permutation(probabilities.shape[0])]
    scores = np.empty(num_splits)
    for index, part in enumerate(np.array_split(shuffled, num_splits)):
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + _LOG_EPSILON) - np.log(marginal + _LOG_EPSILON))).sum(axis=1)
        scores[index] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())


def classifier_score(probabilities, num_splits=10, seed=0):
    """The inception score computed on a domain classifier's probabilities.

    Same formula and arguments as `inception_score`: `exp(E_x KL(p(y|x) || p(y)))`
    (Salimans et al., 2016), under the name used when `p(y|x)` comes from a classifier
    trained on the dataset itself (e.g. an MNIST classifier for digits), where Inception-v3
    classes mean nothing. Returns `(mean, std)` over the splits.
    """
    return inception_score(probabilities, num_splits=num_splits, seed=seed)


# === Distances and neighbours ===


def pairwise_distances(a, b, chunk_size=DEFAULT_CHUNK_SIZE):
    """Euclidean distances between the rows of `a` and `b`, `chunk_size` rows of `a` at a time.

    `d(a_i, b_j) = sqrt(max(||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, 0))`. The expansion turns
    the work into matrix products; it loses precision for nearly identical rows (an exact
    copy may come out as ~1e-7 times the feature norm instead of 0). The returned matrix is
    `(N_a, N_b)` float64 (800 MB for 10,000 x 10,000); the metrics of this module reduce each
    chunk as they go and never hold the whole matrix.

    Args:
        a: `(N_a, d)` array.
        b: `(N_b, d)` array, the same `d`.
        chunk_size: rows of `a` per block. Defaults to 1024.

    Returns:
        `(N_a, N_b)` float64 array of distances.
    """
    a = _features("a", a, min_samples=1)
    b = _features("b", b, min_samples=1)
    _check_same_dim(a, b, first="a", second="b")
    check_positive_int("chunk_size", chunk_size)
    distances = np.empty((a.shape[0], b.shape[0]))
    for start, block in _distance_blocks(a, b, chunk_size):
        distances[start:start + block.shape[0]] = block
    return distances


def nearest_neighbour_distances(fake_features, train_features, chunk_size=DEFAULT_CHUNK_SIZE):
    """Each fake sample's distance to its nearest training sample, and that sample's index.

    `d_i = min_j ||fake_i - train_j||_2` and `index_i = argmin_j ||fake_i - train_j||_2`. The
    search uses `pairwise_distances`; the distance to the chosen neighbour is then recomputed
    directly as `||fake_i - train_index_i||`, so an exact copy of a training sample gets 0.

    Args:
        fake_features: `(N_fake, d)` array.
        train_features: `(N_train, d)` array, the same `d`.
        chunk_size: fake rows per block. Defaults to 1024.

    Returns:
        `(distances, indices)`: float64 array `(N_fake,)` and int64 array `(N_fake,)`.
    """
    fake_features = _features("fake_features", fake_features, min_samples=1)
    train_features = _features("train_features", train_features, min_samples=1)
    _check_same_dim(train_features, fake_features, first="train_features")
    check_positive_int("chunk_size", chunk_size)
    indices = np.empty(fake_features.shape[0], dtype=np.int64)
    for start, block in _distance_blocks(fake_features, train_features, chunk_size):
        indices[start:start + block.shape[0]] = np.argmin(block, axis=1)
    distances = np.linalg.norm(fake_features - train_features[indices], axis=1)
    return distances, indices


def memorization_report(fake_features, train_features, real_holdout_features, percentile=1.0,
                        chunk_size=DEFAULT_CHUNK_SIZE):
    """Does the generator copy its training set? Fake->train vs held-out real->train distances.

    Held-out real samples were never trained on, so their nearest-neighbour distances to the
    training set show how close a new sample of the true distribution falls to it. A
    generator that reproduces training samples puts its fakes much closer than that (Meehan
    et al., "A Non-Parametric Test to Detect Data-Copying in Generative Models", 2020, make
    the same comparison into a test).

    How to read it:
    - `median_ratio = median(fake->train) / median(holdout->train)`: about 1 for a generator
      that samples the distribution; well below 1 (say < 0.8) means fakes sit nearer to
      training samples than new real data does: memorization. Well above 1 means fakes are
      far from all data (poor quality), which this report does not separate from novelty.
    - `close_fraction`: the fraction of fakes closer to the training set than the
      `percentile`-th percentile of holdout->train distances (`threshold`). Expect about
      `expected_close_fraction = percentile / 100`; several times that means near-copies.
      `closest_fake_indices` lists the (at most 10) nearest fakes to look at.
    - `num_copies`: fakes within `1e-6 * holdout_median` of a training sample: copies.
    The training and held-out sets need the same preprocessing and feature extractor, and the
    held-out set must not overlap the training set.

    Args:
        fake_features: `(N_fake, d)` generated-sample features.
        train_features: `(N_train, d)` features of the generator's training data.
        real_holdout_features: `(N_holdout, d)` features of real data not trained on.
        percentile: percentile of holdout->train distances used as the closeness threshold,
            in (0, 100). Defaults to 1.
        chunk_size: rows per distance block. Defaults to 1024.

    Returns:
        A dict of Python numbers: `fake_median`, `holdout_median`, `median_ratio`,
        `threshold`, `close_fraction`, `expected_close_fraction`, `num_copies`, and
        `closest_fake_indices` (a list).
    """
    fake_features = _features("fake_features", fake_features, min_samples=1)
    train_features = _features("train_features", train_features, min_samples=1)
    real_holdout_features = _features("real_holdout_features", real_holdout_features,
                                      min_samples=1)
    _check_same_dim(train_features, fake_features, first="train_features")
    _check_same_dim(train_features, real_holdout_features, first="train_features",
                    second="real_holdout_features")
    if (isinstance(percentile, bool) or not isinstance(percentile, (int, float))
            or not 0.0 < percentile < 100.0):
        raise invalid("percentile", percentile, "a number strictly between 0 and 100, e.g. 1")
    check_positive_int("chunk_size", chunk_size)

    fake_distances, _ = nearest_neighbour_distances(fake_features, train_features, chunk_size)
    holdout_distances, _ = nearest_neighbour_distances(real_holdout_features, train_features,
                                                       chunk_size)
    holdout_median = float(np.median(holdout_distances))
    if holdout_median == 0.0:
        raise invalid("real_holdout_features", "samples whose median distance to "
                      "train_features is 0", "real samples that are not in the training set")
    fake_median = float(np.median(fake_distances))
    threshold = float(np.percentile(holdout_distances, percentile))
    closest = np.argsort(fake_distances, kind="stable")[:10]
    return {
        "fake_median": fake_median,
        "holdout_median": holdout_median,
        "median_ratio": fake_median / holdout_median,
        "threshold": threshold,
        "close_fraction": float(np.mean(fake_distances < threshold)),
        "expected_close_fraction": percentile / 100.0,
        "num_copies": int(np.sum(fake_distances <= 1e-6 * holdout_median)),
        "closest_fake_indices": [int(i) for i in closest],
    }


# === Manifold metrics ===


def precision_recall(real_features, fake_features, k=3, chunk_size=DEFAULT_CHUNK_SIZE):
    """Improved precision and recall: how much of each set lies on the other's k-NN manifold.

    Kynkaanniemi et al., "Improved Precision and Recall Metric for Assessing Generative
    Models", 2019. Each sample gets a radius, the distance to its `k`-th nearest neighbour in
    its own set (itself excluded); a set's manifold is the union of its samples' balls.
    `precision = mean_fake 1[exists real r: ||fake - r|| <= radius(r)]` (fakes that look
    real: quality) and `recall = mean_real 1[exists fake f: ||real - f|| <= radius(f)]` (real
    samples the generator covers: diversity). Both in [0, 1], higher is better. The paper
    uses `k = 3` and VGG-16 features of 50,000 samples per set.

    Args:
        real_features: `(N_real, d)` array, `N_real > k`.
        fake_features: `(N_fake, d)` array, `N_fake > k`, the same `d`.
        k: positive int, the neighbour that sets the radius. Defaults to 3.
        chunk_size: rows per distance block. Defaults to 1024.

    Returns:
        `{"precision": float, "recall": float}`.
    """
    real_features, fake_features = _neighbour_inputs(real_features, fake_features, k,
                                                     chunk_size, fake_min_samples=k + 1)

    real_radii = _kth_neighbour_radii(real_features, k, chunk_size)
    fake_radii = _kth_neighbour_radii(fake_features, k, chunk_size)
    fake_on_real = np.zeros(fake_features.shape[0], dtype=bool)
    real_on_fake = np.zeros(real_features.shape[0], dtype=bool)
    for start, block in _distance_blocks(fake_features, real_features, chunk_size):
        stop = start + block.shape[0]
        fake_on_real[start:stop] = (block <= real_radii[None, :]).any(axis=1)
        real_on_fake |= (block <= fake_radii[start:stop, None]).any(axis=0)
    return {"precision": float(fake_on_real.mean()), "recall": float(real_on_fake.mean())}


def density_coverage(real_features, fake_features, k=5, chunk_size=DEFAULT_CHUNK_SIZE):
    """Density and coverage: precision and recall made robust to outliers.

    Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", 2020 (the
    `prdc` reference code, strict `<`). Only real samples get radii: `radius(r)` is the
    distance from `r` to its `k`-th nearest real neighbour (itself excluded).
    `density = sum_fake sum_real 1[||fake - r|| < radius(r)] / (k N_fake)`: how many real
    balls hold each fake, on average, divided by `k`; about 1 when fakes follow the real
    distribution, above 1 when they crowd dense regions (it is not bounded by 1).
    `coverage = mean_real 1[min_fake ||r - fake|| < radius(r)]`: the fraction of real balls
    that hold at least one fake, in [0, 1]. Higher coverage is better; the paper uses `k = 5`.

    Args:
        real_features: `(N_real, d)` array, `N_real > k`.
        fake_features: `(N_fake, d)` array, the same `d`.
        k: positive int, the neighbour that sets the radius. Defaults to 5.
        chunk_size: rows per distance block. Defaults to 1024.

    Returns:
        `{"density": float, "coverage": float}`.
    """
    real_features, fake_features = _neighbour_inputs(real_features, fake_features, k,
                                                     chunk_size, fake_min_samples=1)

    real_radii = _kth_neighbour_radii(real_features, k, chunk_size)
    inside = 0
    nearest_fake = np.full(real_features.shape[0], np.inf)
    for _, block in _distance_blocks(fake_features, real_features, chunk_size):
        inside += int((block < real_radii[None, :]).sum())
        nearest_fake = np.minimum(nearest_fake, block.min(axis=0))
    return {
        "density": inside / (k * fake_features.shape[0]),
        "coverage": float((nearest_fake < real_radii).mean()),
    }


# === Class coverage (mode collapse) ===


def core_scores(real_features, fake_features, fake_probabilities=None, num_classes=None,
                requested_labels=None, seed=0):
    """The scores both the training-time `SampleQuality` and `evaluate` report, computed once.

    Args:
        real_features, fake_features: `(N, d)` feature arrays of one extractor.
        fake_probabilities: the samples' `(N, C)` class probabilities from a domain
            classifier, or None (no class scores then).
        num_classes: classes for the class scores (with `fake_probabilities`).
        requested_labels: the classes a conditional generator was asked for, or None.
        seed: seed of KID's subsets.

    Returns:
        `{"fd": float, "kid": (mean, std), "kid_subset_size": int}`; with class
        probabilities also `"class_coverage"` (the `class_coverage` dict) and `"predicted"`
        (the samples' argmax classes), and with `requested_labels` the fraction of samples
        classified as asked, `"requested_class_accuracy"`.
    """
    real = _features("real_features", real_features, 2)
    fake = _features("fake_features", fake_features, 2)
    subset_size = min(KID_SUBSET_SIZE, len(real), len(fake))
    scores = {"fd": frechet_distance(real, fake),
              "kid": kernel_inception_distance(real, fake, num_subsets=KID_SUBSETS,
                                               subset_size=subset_size, seed=seed),
              "kid_subset_size": subset_size}
    if fake_probabilities is not None and num_classes:
        predicted = np.asarray(fake_probabilities).argmax(-1)
        scores["class_coverage"] = class_coverage(predicted, num_classes)
        scores["predicted"] = predicted
        if requested_labels is not None:
            scores["requested_class_accuracy"] = float(
                (predicted == np.asarray(requested_labels)).mean())
    return scores


def pixel_distances(images):
    """Root-mean-square pixel distances between all pairs of `images`, `(n, n)` float64.

    `sqrt(mean((x_i - x_j)^2))` over every pixel and channel; 0 on the diagonal. The
    health monitor's diversity statistics are made of it.
    """
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    squares = np.einsum("ij,ij->i", flat, flat)
    distances = squares[:, None] + squares[None, :] - 2.0 * flat @ flat.T
    np.fill_diagonal(distances, 0.0)
    return np.sqrt(np.maximum(distances, 0.0) / flat.shape[1])


def mean_pairwise_distance(distances):
    """The mean of a `(n, n)` distance matrix over distinct pairs (0.0 for n < 2): a spread."""
    distances = np.asarray(distances, np.float64)
    count = len(distances)
    return float(distances.sum() / (count * (count - 1))) if count > 1 else 0.0


def near_copy_fraction(distances, threshold):
    """The fraction of items whose nearest other item is closer than `threshold`."""
    distances = np.array(distances, np.float64)
    np.fill_diagonal(distances, np.inf)
    return float(np.mean(distances.min(axis=1) < threshold))


def class_histogram(predicted_labels, num_classes):
    """How many samples a classifier assigned to each class: `counts[c] = #{i: label_i = c}`.

    Args:
        predicted_labels: 1-D integer labels in `[0, num_classes)`, e.g. the argmax of a
            domain classifier's outputs on generated samples.
        num_classes: positive int.

    Returns:
        int64 array of shape `(num_classes,)`.
    """
    check_positive_int("num_classes", num_classes)
    labels = np.asarray(predicted_labels)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise invalid("predicted_labels", f"array of shape {labels.shape}",
                      "a non-empty 1-D array of class indices (take argmax of probabilities)")
    if labels.dtype == bool or not (np.issubdtype(labels.dtype, np.integer) or (
            np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)))):
        raise invalid("predicted_labels", f"an array of dtype {labels.dtype}",
                      "integer class indices")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise invalid("predicted_labels", f"labels from {labels.min()} to {labels.max()}",
                      f"class indices in [0, {num_classes}) for num_classes={num_classes}")
    return np.bincount(labels.astype(np.int64), minlength=num_classes).astype(np.int64)


def class_coverage(predicted_labels, num_classes, min_fraction=None):
    """Mode collapse by class: which classes a generator produces, per a domain classifier.

    A class is covered when its share of the predictions is at least `min_fraction`; the
    default, `1 / (2 num_classes)`, is half of a class's fair share, so a generator that
    samples classes uniformly covers all of them while one that dropped or nearly dropped a
    class does not. `coverage = covered / num_classes`;
    `entropy = -sum_c p_c log p_c / log(num_classes)` of the predicted-class distribution,
    normalized to [0, 1] (1: uniform; 0: one class). The verdict `collapsed` is
    `covered < num_classes`: at least one class is missing or rare. A generator that outputs
    one constant image covers 1 class of 10, collapsed. With the default threshold a uniform
    generator fails a class by chance (Binomial noise) rarely only from about 50 samples per
    class up: classify at least `50 * num_classes` samples. This is the mode-count check of
    the "stacked MNIST" experiments (Metz et al., "Unrolled GANs", 2017; Srivastava et al.,
    "VEEGAN", 2017), in the simple form of one classifier.

    Args:
        predicted_labels: 1-D integer labels in `[0, num_classes)`.
        num_classes: int >= 2.
        min_fraction: share of all samples a class needs to count as covered, in (0, 1];
            `None` (default) means `1 / (2 num_classes)`.

    Returns:
        `{"histogram": list of ints, "covered": int, "coverage": float, "entropy": float,
        "collapsed": bool, "min_fraction": float}`.
    """
    check_positive_int("num_classes", num_classes)
    if num_classes < 2:
        raise invalid("num_classes", num_classes, "an integer >= 2")
    if min_fraction is None:
        min_fraction = 1.0 / (2 * num_classes)
    elif (isinstance(min_fraction, bool) or not isinstance(min_fraction, (int, float))
          or not 0.0 < min_fraction <= 1.0):
        raise invalid("min_fraction", min_fraction,
                      f"a share in (0, 1], or None for 1 / (2 num_classes) = {0.5 / num_classes}")
    histogram = class_histogram(predicted_labels, num_classes)
    shares = histogram / histogram.sum()
    covered = int(np.sum(shares >= min_fraction))
    nonzero = shares[shares > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(num_classes))
    return {
        "histogram": [int(count) for count in histogram],
        "covered": covered,
        "coverage": covered / num_classes,
        "entropy": min(max(entropy, 0.0), 1.0),
        "collapsed": covered < num_classes,
        "min_fraction": float(min_fraction),
    }


# === Helpers ===


def _neighbour_inputs(real_features, fake_features, k, chunk_size, fake_min_samples):
    """The checked feature arrays of a k-NN manifold metric (real needs more than k)."""
    check_positive_int("k", k)
    real_features = _features("real_features", real_features, min_samples=k + 1)
    fake_features = _features("fake_features", fake_features, min_samples=fake_min_samples)
    _check_same_dim(real_features, fake_features)
    check_positive_int("chunk_size", chunk_size)
    return real_features, fake_features


def _features(name, value, min_samples):
    """`value` as a finite float64 `(N, d)` array with `N >= min_samples`, or a UserError."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, _short(value), "a 2-D array of numbers (num_samples, num_features)"
                      ) from None
    if array.ndim != 2 or array.shape[1] == 0:
        raise invalid(name, f"array of shape {array.shape}",
                      "a 2-D array (num_samples, num_features); reshape images' features to 2-D")
    if array.shape[0] < min_samples:
        raise invalid(name, f"array of shape {array.shape}", f"at least {min_samples} samples")
    if not np.all(np.isfinite(array)):
        raise invalid(name, "an array with NaN or infinite values", "finite numbers")
    return array


def _vector(name, value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, _short(value), "a 1-D array of numbers (a mean)") from None
    if array.ndim != 1 or array.shape[0] == 0:
        raise invalid(name, f"array of shape {array.shape}", "a non-empty 1-D array (a mean)")
    if not np.all(np.isfinite(array)):
        raise invalid(name, "an array with NaN or infinite values", "finite numbers")
    return array


def _covariance(name, value, dim):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, _short(value), f"a ({dim}, {dim}) covariance matrix") from None
    if array.shape != (dim, dim):
        raise invalid(name, f"array of shape {array.shape}",
                      f"a ({dim}, {dim}) covariance matrix, matching the mean")
    if not np.all(np.isfinite(array)):
        raise invalid(name, "an array with NaN or infinite values", "finite numbers")
    scale = max(np.abs(array).max(), np.finfo(np.float64).tiny)
    if np.abs(array - array.T).max() > 1e-6 * scale:
        raise invalid(name, "a non-symmetric matrix", "a symmetric covariance matrix")
    return 0.5 * (array + array.T)


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric PSD matrix; round-off negative eigenvalues -> 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def _check_same_dim(first_array, second_array, first="real_features", second="fake_features"):
    if first_array.shape[1] != second_array.shape[1]:
        raise invalid(second, f"array of shape {second_array.shape}",
                      f"{first_array.shape[1]} features per row, like {first} "
                      f"(shape {first_array.shape})")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _distance_blocks(a, b, chunk_size):
    """Yields `(start, distances of a[start:start + chunk_size] to all of b)`."""
    b_squared = np.einsum("ij,ij->i", b, b)[None, :]
    for start in range(0, a.shape[0], chunk_size):
        rows = a[start:start + chunk_size]
        squared = np.einsum("ij,ij->i", rows, rows)[:, None] + b_squared - 2.0 * (rows @ b.T)
        yield start, np.sqrt(np.clip(squared, 0.0, None))


def _kth_neighbour_radii(features, k, chunk_size):
    """Distance from each row to its `k`-th nearest other row (itself excluded, copies kept)."""
    radii = np.empty(features.shape[0])
    for start, block in _distance_blocks(features, features, chunk_size):
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = np.inf
        radii[start:start + block.shape[0]] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return radii
