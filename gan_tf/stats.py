"""Small-sample statistics for comparing classifiers trained with different seeds.

Pure functions on sequences of numbers (NumPy only, no SciPy). A downstream report trains
each arm with the same seeds and tests every arm on the same rows, so two arms are paired
twice over: by seed and by test row. `paired_difference` is the Student-t interval over
seeds alone, which is zero wide when every seed scores alike; `paired_bootstrap` resamples
the test rows and the seeds together, so its interval also holds the test set's own
sampling error (one image of 60 is 1.7 points of accuracy). The reports use the bootstrap.
"""

import math

import numpy as np

# Two-sided 95% quantiles of Student's t, t_{0.975, df}, for df = 1..30 (standard tables).
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
          2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
          2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z_975 = 1.959964


def t_quantile_975(df):
    """`t_{0.975, df}`: the 95% two-sided quantile of Student's t with `df` degrees of freedom.

    A table for df <= 30; above, the Cornish-Fisher expansion in 1/df (error < 1e-4).
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df}")
    df = int(df)
    if df <= len(_T_975):
        return _T_975[df - 1]
    z = _Z_975
    return (z + (z ** 3 + z) / (4 * df)
            + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2))


def mean_and_std(values):
    """`(mean, sample standard deviation)` of `values`; the deviation is 0 for one value."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError("no values")
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return float(values.mean()), std


def paired_difference(treated, control):
    """The mean of `treated - control` (paired by position) and its 95% Student-t interval.

    Returns a dict: "mean", "ci_low", "ci_high" (None with fewer than two pairs), "std" (of
    the differences) and "each" (the differences).
    """
    treated, control = np.asarray(treated, np.float64), np.asarray(control, np.float64)
    if treated.shape != control.shape or treated.ndim != 1 or treated.size == 0:
        raise ValueError(f"paired scores need two equal-length lists, got {treated.shape} "
                         f"and {control.shape}")
    differences = treated - control
    mean, std = mean_and_std(differences)
    low = high = None
    if differences.size > 1:
        half = t_quantile_975(differences.size - 1) * std / math.sqrt(differences.size)
        low, high = mean - half, mean + half
    return {"mean": mean, "ci_low": low, "ci_high": high, "std": std,
            "each": differences.tolist()}


def wilson_interval(successes, trials):
    """The 95% Wilson score interval `(low, high)` of a proportion `successes / trials`.

    Unlike the normal approximation it stays inside [0, 1] and is usable for small `trials`
    and proportions near 0 or 1 (Wilson, 1927): centre `(k + z^2/2) / (n + z^2)`, half-width
    `z sqrt(k (n - k) / n + z^2 / 4) / (n + z^2)`.
    """
    if int(trials) != trials or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials}")
    if int(successes) != successes or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an integer in [0, {trials}], got {successes}")
    k, n, z = float(successes), float(trials), _Z_975
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def clustered_bootstrap_interval(groups, repeats=2000, seed=0):
    """A 95% bootstrap interval of the overall rate of 1s in `groups` (lists of 0/1 outcomes).

    Two-level resampling (HYPE, Zhou et al. 2019, also reports bootstrapped intervals): each
    repeat draws the groups (raters) with replacement, then each drawn group's outcomes with
    replacement, and takes the pooled rate; the interval is the 2.5th and 97.5th percentiles.
    Images are not resampled as clusters across raters. With one
    group it is the ordinary bootstrap over its outcomes. Seeded, so reports are reproducible.
    """
    groups = [np.asarray(group, np.float64) for group in groups]
    if not groups or any(group.ndim != 1 or group.size == 0 for group in groups):
        raise ValueError("every group needs at least one outcome")
    rng = np.random.default_rng(seed)
    rates = np.empty(repeats)
    for repeat in range(repeats):
        drawn = rng.integers(0, len(groups), len(groups)) if len(groups) > 1 else [0]
        total = count = 0.0
        for index in drawn:
            group = groups[index]
            total += group[rng.integers(0, group.size, group.size)].sum()
            count += group.size
        rates[repeat] = total / count
    low, high = np.percentile(rates, [2.5, 97.5])
    return float(low), float(high)


# === Paired bootstrap over test rows and seeds ===

BOOTSTRAP_REPEATS = 2000


def accuracy(truth, predicted):
    """The share of `predicted` equal to `truth` (integer or string labels)."""
    return float(np.mean(np.asarray(truth) == np.asarray(predicted)))


def macro_f1(truth, predicted, num_classes):
    """The unweighted mean over classes `0..num_classes-1` of each class's F1 (integer
    labels); a class absent from both truth and predictions counts 0, as scikit-learn's
    `f1_score(average="macro", labels=range(num_classes), zero_division=0)` does."""
    return float(np.mean(class_f1(truth, predicted, num_classes)))


def class_f1(truth, predicted, num_classes):
    """Each class's F1 (2 TP / (2 TP + FP + FN), 0 when it is 0/0), integer labels."""
    truth, predicted = np.asarray(truth, np.int64), np.asarray(predicted, np.int64)
    true_positive = np.bincount(truth[truth == predicted], minlength=num_classes)
    support = np.bincount(truth, minlength=num_classes)
    chosen = np.bincount(predicted, minlength=num_classes)
    denominator = support + chosen
    return np.where(denominator > 0, 2 * true_positive / np.maximum(denominator, 1), 0.0)


def r2(truth, predicted):
    """The coefficient of determination 1 - SS_res / SS_tot; with a constant truth, 1 when
    predicted exactly and 0 otherwise (as scikit-learn's `r2_score`)."""
    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    residual = np.sum((truth - predicted) ** 2)
    total = np.sum((truth - truth.mean()) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


def paired_bootstrap(score, truth, treated, control, repeats=BOOTSTRAP_REPEATS, seed=0):
    """The mean gain of `treated` over `control` and its 95% paired bootstrap interval.

    Both arms were trained with the same seeds and tested on the same rows:
    `treated[s][i]` and `control[s][i]` are the predictions of seed s's classifiers for test
    row i, whose true value is `truth[i]`. Each repeat draws the test rows with replacement
    (the same rows for both arms and every seed) and the seeds with replacement, and takes
    the mean over the drawn seeds of `score(truth, treated) - score(truth, control)` on the
    drawn rows; the interval is the 2.5th and 97.5th percentiles of the repeats. So it holds
    both the test set's sampling error and the spread over seeds, and it is not zero wide
    when every seed scores alike. Seeded, so reports are reproducible.

    Args:
        score: `score(truth, predictions) -> float`, e.g. `accuracy` (a metric that is not
            a mean over rows, like `macro_f1`, works too).
        truth: `(rows,)` true labels or values.
        treated, control: `(seeds, rows)` predictions.
        repeats: bootstrap repeats.
        seed: the bootstrap's seed.

    Returns:
        A dict: "mean" (the gain on the test rows as they are, over the seeds), "ci_low",
        "ci_high", "std" (of the per-seed gains), "each" (the per-seed gains), "method" and
        "repeats".
    """
    truth = np.asarray(truth)
    treated, control = np.asarray(treated), np.asarray(control)
    if (treated.shape != control.shape or treated.ndim != 2 or treated.shape[1] != len(truth)
            or not treated.size):
        raise ValueError(f"paired predictions need two (seeds, rows) arrays over the "
                         f"{len(truth)} test rows, got {treated.shape} and {control.shape}")
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats}")
    seeds, rows = treated.shape
    each = [score(truth, treated[s]) - score(truth, control[s]) for s in range(seeds)]
    mean, std = mean_and_std(each)
    rng = np.random.default_rng(seed)
    gains = np.empty(repeats)
    for repeat in range(repeats):
        drawn_rows = rng.integers(0, rows, rows)
        drawn_seeds = rng.integers(0, seeds, seeds) if seeds > 1 else [0]
        drawn_truth = truth[drawn_rows]
        gains[repeat] = np.mean([score(drawn_truth, treated[s, drawn_rows])
                                 - score(drawn_truth, control[s, drawn_rows])
                                 for s in drawn_seeds])
    low, high = np.percentile(gains, [2.5, 97.5])
    return {"mean": mean, "ci_low": float(low), "ci_high": float(high), "std": std,
            "each": [float(gain) for gain in each],
            "method": "paired bootstrap over test rows and seeds", "repeats": int(repeats)}
