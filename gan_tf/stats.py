"""Small-sample statistics for comparing classifiers trained with different seeds.

Pure functions on sequences of numbers (NumPy only, no SciPy). A downstream report trains
each arm with the same seeds, so two arms give paired scores: their difference per seed is
what varies, and its Student-t interval says whether a gain is larger than the noise.
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
