"""The imputers people already use, from scikit-learn, on one scaled matrix.

Each takes a float matrix with NaN in the holes, every column in [0, 1] (numbers min-max
scaled; a categorical column's category codes divided by the number of categories less one,
so a distance between rows weighs every column alike) and returns it filled. Categorical
columns are snapped back to categories by the caller (`tabular.TableCodec.decode_codes`).

- `mean`: each numeric column's mean, each categorical column's most frequent category.
- `knn`: the mean of the 5 nearest rows (scikit-learn's `KNNImputer`, nan-Euclidean).
- `mice`: scikit-learn's `IterativeImputer` (Bayesian ridge per column, 10 rounds), the
  MICE-style chained equations, single draw (no posterior sampling).
- `forest`: `IterativeImputer` with a random forest per column (MissForest-like,
  Stekhoven and Buehlmann 2012): 30 trees with MissForest's (R randomForest's) regression
  settings, a third of the columns tried per split and 5 rows per leaf; 5 rounds.
"""

import warnings

import numpy as np

from gan_tf.errors import check_choice, check_seed

METHODS = ("mean", "knn", "mice", "forest")
KNN_NEIGHBOURS = 5
MICE_ROUNDS = 10
FOREST_TREES = 30
FOREST_ROUNDS = 5


def fill(method, scaled, categorical, seed=0):
    """`scaled` (NaN in the holes) filled by `method`, one of `METHODS`.

    Args:
        method: "mean", "knn", "mice" or "forest".
        scaled: float array `(rows, columns)`, values in [0, 1], NaN where missing.
        categorical: bool sequence, one per column, True for categorical columns.
        seed: seed of the iterative imputers' randomness.

    Returns:
        float64 array of `scaled`'s shape with no NaN; observed entries unchanged.
    """
    check_choice("method", method, METHODS)
    check_seed(seed)
    scaled = np.asarray(scaled, np.float64)
    categorical = np.asarray(categorical, bool)
    missing = np.isnan(scaled)
    if not missing.any():
        return scaled.copy()
    if method == "mean":
        filled = _mean_mode(scaled, categorical)
    else:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer, KNNImputer

        if method == "knn":
            imputer = KNNImputer(n_neighbors=KNN_NEIGHBOURS, keep_empty_features=True)
        elif method == "mice":
            imputer = IterativeImputer(max_iter=MICE_ROUNDS, random_state=seed,
                                       keep_empty_features=True)
        else:
            from sklearn.ensemble import RandomForestRegressor

            imputer = IterativeImputer(
                estimator=RandomForestRegressor(n_estimators=FOREST_TREES, max_features=1 / 3,
                                                min_samples_leaf=5, random_state=seed,
                                                n_jobs=1),
                max_iter=FOREST_ROUNDS, random_state=seed, keep_empty_features=True)
        start = _mean_mode(scaled, categorical)  # every column keeps a value if all empty
        with warnings.catch_warnings():
            # "Early stopping criterion not reached": the fixed rounds are the setting.
            warnings.simplefilter("ignore", ConvergenceWarning)
            filled = imputer.fit_transform(np.where(_empty(scaled), start, scaled))
    filled = np.clip(filled, 0.0, 1.0)
    return np.where(missing, filled, scaled)


def _empty(scaled):
    """True in the columns with no observed entry (so their holes are all of them)."""
    return np.broadcast_to(np.isnan(scaled).all(axis=0), scaled.shape)


def _mean_mode(scaled, categorical):
    filled = scaled.copy()
    for column in range(scaled.shape[1]):
        present = scaled[:, column][~np.isnan(scaled[:, column])]
        if present.size == 0:
            value = 0.0
        elif categorical[column]:
            levels, counts = np.unique(present, return_counts=True)
            value = levels[np.argmax(counts)]
        else:
            value = present.mean()
        filled[np.isnan(filled[:, column]), column] = value
    return filled
