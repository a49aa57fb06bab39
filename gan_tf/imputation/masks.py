"""Holes to hide in a table's observed entries: MCAR, MAR and MNAR masks (numpy, seeded).

A comparison of imputers hides a further share of the *observed* entries and scores each
imputer on them. How the holes fall matters: completely at random (MCAR) flatters every
method; real holes usually depend on other values (MAR) or on the missing value itself
(MNAR). The three mechanisms, each a pure function of the data and the seed:

- `mcar`: each observed entry is hidden with probability `rate`.
- `mar`: a third of the columns (at least one) stay as they are and drive the holes of the
  others: in each other column an entry is hidden with probability
  `sigmoid(2 z + b)`, `z` the standardized value of a driving column drawn per column in
  that row, `b` set so that `rate` of all observed entries are hidden on average (the
  driven columns lose more, at most 95%; the logistic MAR of Muzellec et al. 2020).
- `mnar`: self-masking: an entry is hidden with probability `sigmoid(2 z + b)`, `z` its own
  standardized value (large values go missing more often), `b` as above.
"""

import numpy as np

from gan_tf.errors import check_choice, check_fraction, check_seed

MECHANISMS = ("mcar", "mar", "mnar")
_SLOPE = 2.0


def check_rate(rate, name="rate"):
    """Raises the standard `UserError` unless `rate` is a number in (0, 1)."""
    check_fraction(name, rate, "0.2", low_open=True, high_open=True)


def hide(values, observed, rate, mechanism="mcar", seed=0):
    """A 0/1 mask of the observed entries to hide (1: hide), by `mechanism`.

    Args:
        values: float array `(rows, columns)` (categories as codes; NaN where missing).
        observed: bool array of the same shape, True where a value is present.
        rate: share of the observed entries to hide, in (0, 1).
        mechanism: "mcar", "mar" or "mnar" (see the module docstring).
        seed: seed of the draw.

    Returns:
        bool array of `values`' shape, True only where `observed` is.
    """
    check_rate(rate)
    check_choice("mechanism", mechanism, MECHANISMS)
    check_seed(seed)
    values = np.asarray(values, np.float64)
    observed = np.asarray(observed, bool)
    rng = np.random.default_rng(seed)
    uniforms = rng.random(values.shape)
    if mechanism == "mcar":
        return (uniforms < rate) & observed
    standardized = _standardized(values, observed)
    columns = values.shape[1]
    hidden = np.zeros(values.shape, bool)
    if mechanism == "mnar":
        for column in range(columns):
            hidden[:, column] = _logistic_holes(standardized[:, column], observed[:, column],
                                                uniforms[:, column], rate)
        return hidden
    drivers = rng.permutation(columns)[:max(1, columns // 3)]
    if len(drivers) == columns:  # a single column: nothing else can drive it
        return (uniforms < rate) & observed
    driven = sorted(set(range(columns)) - set(drivers.tolist()))
    # The driving columns keep every entry, so the driven ones lose more: `rate` overall.
    column_rate = min(rate * observed.sum() / max(observed[:, driven].sum(), 1), 0.95)
    for column in driven:
        driver = drivers[rng.integers(len(drivers))]
        hidden[:, column] = _logistic_holes(standardized[:, driver], observed[:, column],
                                            uniforms[:, column], column_rate)
    return hidden


def _standardized(values, observed):
    """Each column centred and scaled on its observed entries; 0 where missing."""
    present = np.where(observed, values, np.nan)
    with np.errstate(all="ignore"):
        centre = np.nanmean(present, axis=0)
        scale = np.nanstd(present, axis=0)
    centre = np.nan_to_num(centre)
    scale = np.where(np.nan_to_num(scale) > 0, np.nan_to_num(scale), 1.0)
    return np.where(observed, (np.nan_to_num(present) - centre) / scale, 0.0)


def _logistic_holes(score, observed, uniforms, rate):
    """Hides where `uniforms < sigmoid(2 score + b)`, `b` making the mean over the observed
    entries `rate` (bisection; the mean is increasing in b)."""
    if not observed.any():
        return np.zeros_like(observed)
    score = score[observed]
    low, high = -50.0, 50.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(_sigmoid(_SLOPE * score + middle)) < rate:
            low = middle
        else:
            high = middle
    probability = np.zeros(observed.shape)
    probability[observed] = _sigmoid(_SLOPE * score + (low + high) / 2)
    return (uniforms < probability) & observed


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))
