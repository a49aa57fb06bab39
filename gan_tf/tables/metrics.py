"""How good are synthetic rows? Pure functions on pandas DataFrames (no TensorFlow).

Every function takes real and synthetic frames with the same column names and the columns'
kinds: a `gan_tf.tables.schema.TableSchema`, a `{column: kind}` dict, or None (kinds read
from the dtypes: bool -> boolean, integer -> integer, float -> continuous, anything else ->
categorical). Kinds are those of `schema.KINDS`: "continuous", "integer", "categorical",
"boolean".

- Column shapes and column-pair trends are SDMetrics' (0.32) definitions, computed here and
  tested against SDMetrics itself to 1e-6, so gan_tf does not depend on it at run time:
  `ks_complement` (numbers: 1 - the two-sample Kolmogorov-Smirnov statistic),
  `tv_complement` (categories: 1 - the total variation distance), `correlation_similarity`
  (two numbers: 1 - |r_real - r_synthetic| / 2, Pearson), `contingency_similarity` (a
  category and anything: 1 - the total variation distance of the joint frequencies, numbers
  cut into each frame's own 10 histogram bins). `quality_report` averages them as SDMetrics'
  `QualityReport` does: the column-shapes mean, the mean over the pairs whose real
  association is strong enough to count (|Pearson r| > 0.5, Cramer's V > 0.3), and the mean
  of those two.
- `detection`: cross-validated ROC AUC of classifiers telling real rows from synthetic ones
  (0.5: indistinguishable; 1.0: always told apart).
- `efficacy`: train on synthetic rows, test on real held-out rows, against train on real
  rows (F1 and accuracy for a categorical or boolean target, R2 for a numeric one).
- `privacy`: distance from each synthetic row to its closest training row, against the same
  for real held-out rows; exact copies counted; a warning when synthetic rows sit closer.

Missing values and mixed kinds, one encoding (`TableEncoder`) for every model and distance:
a number is standardised by the fitting frame's mean and standard deviation, a missing
number becomes 0 with a 0/1 "missing" column beside it (when the fitting frame has missing
values in that column); a category becomes one-hot over the fitting frame's values as
strings, missing values being a category of their own, unseen values all zeros. Column
shapes and pair trends follow SDMetrics: missing values are dropped from shapes and
correlations and counted as a value of their own in contingency tables.

Example:

```python
quality = quality_report(real_train, synthetic, schema)   # {"score": 0.87, ...}
detection(real_holdout, synthetic, schema)["auc"]          # 0.5 is best
efficacy(real_train, real_holdout, synthetic, schema, target="income")["ratio"]
privacy(real_train, real_holdout, synthetic, schema)["warning"]
```
"""

import itertools
import sys
import warnings

import numpy as np
import pandas as pd

from gan_tf.errors import UserError, check_positive_int, check_seed, invalid

NUMERIC_KINDS = ("continuous", "integer")
DISCRETE_KINDS = ("categorical", "boolean")
KNOWN_KINDS = NUMERIC_KINDS + DISCRETE_KINDS
# SDMetrics' QualityReport counts a pair only when the real data shows a trend to keep.
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
# SDMetrics rounds numbers to this many decimals before the KS statistic.
_KS_DECIMALS = sys.float_info.dig - 1
CONTINGENCY_BINS = 10
CONTINGENCY_MAX_ROWS = 50000  # SDMetrics subsamples larger frames for contingency tables
MISSING = "<missing>"  # the category a missing value becomes in `TableEncoder`
PRIVACY_QUANTILE = 0.05
PRIVACY_MEDIAN_SHARE = 0.6  # warn when clearly more than this share sits nearer than the
                            # held-out rows' median distance (half expected)


# === Kinds ===


def column_kinds(frame, schema=None):
    """`{column: kind}` for the columns of `frame` that `schema` describes.

    Args:
        frame: a DataFrame (its columns give the order when `schema` is a dict or None).
        schema: a `TableSchema` (anything with `.columns` of objects with `.name` and
            `.kind`), a `{column: kind}` dict, or None to read kinds from the dtypes.

    Raises:
        UserError: a kind that is not one of `KNOWN_KINDS`, or a column missing from `frame`.
    """
    if schema is None:
        kinds = {name: _kind_of_dtype(frame[name]) for name in frame.columns}
    elif isinstance(schema, dict):
        kinds = dict(schema)
    else:
        kinds = {column.name: column.kind for column in schema.columns}
    for name, kind in kinds.items():
        if kind not in KNOWN_KINDS:
            raise invalid(f"kind of column {name!r}", kind, "one of " + ", ".join(KNOWN_KINDS))
        if name not in frame.columns:
            raise UserError(f"The table has no column {name!r}, which its schema names "
                            f"(it has {', '.join(map(str, frame.columns[:20]))}). Pass the "
                            "frame the schema was made for.")
    return kinds


def _kind_of_dtype(series):
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "continuous"
    return "categorical"


def _check_frames(real, synthetic, kinds):
    for what, frame in (("real", real), ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise invalid(f"{what}_data", type(frame).__name__, "a pandas DataFrame")
        missing = [name for name in kinds if name not in frame.columns]
        if missing:
            raise UserError(f"The {what} rows have no column(s) {', '.join(map(repr, missing))}"
                            "; real and synthetic rows need the same columns. Pass frames "
                            "with the schema's columns.")
        if not len(frame):
            raise UserError(f"The {what} rows are empty; every score needs rows. Pass at "
                            "least one row.")


# === Column shapes (SDMetrics KSComplement / TVComplement) ===


def ks_complement(real, synthetic):
    """1 - the two-sample Kolmogorov-Smirnov statistic of two numeric columns (NaN dropped).

    As SDMetrics' `KSComplement`: values rounded to 14 decimals; NaN when a side is empty.
    """
    real = np.sort(pd.Series(real, dtype=np.float64).dropna().round(_KS_DECIMALS).to_numpy())
    synthetic = np.sort(
        pd.Series(synthetic, dtype=np.float64).dropna().round(_KS_DECIMALS).to_numpy())
    if not real.size or not synthetic.size:
        return float("nan")
    both = np.concatenate([real, synthetic])
    real_cdf = np.searchsorted(real, both, side="right") / real.size
    synthetic_cdf = np.searchsorted(synthetic, both, side="right") / synthetic.size
    return float(1.0 - np.max(np.abs(real_cdf - synthetic_cdf)))


def tv_complement(real, synthetic):
    """1 - the total variation distance of two categorical columns' frequencies (NaN dropped).

    As SDMetrics' `TVComplement` (values compared as they are, so "1" and 1 differ): a value
    only the synthetic rows have gets a real count of 1e-6; NaN when a side is empty.
    """
    real = pd.Series(real).dropna()
    synthetic = pd.Series(synthetic).dropna()
    if not len(real) or not len(synthetic):
        return float("nan")
    real_counts, synthetic_counts = _counts(real), _counts(synthetic)
    for value in synthetic_counts:
        if value not in real_counts:
            real_counts[value] = 1e-6
    real_total, synthetic_total = sum(real_counts.values()), sum(synthetic_counts.values())
    variation = sum(abs(synthetic_counts.get(value, 0.0) / synthetic_total
                        - count / real_total) for value, count in real_counts.items())
    return float(1.0 - 0.5 * variation)


def _counts(values):
    """`{value: count}` of the values present (a categorical dtype's unused values left out)."""
    counts = values.value_counts(sort=False)
    return counts[counts > 0].astype(np.float64).to_dict()


def column_shapes(real, synthetic, schema=None):
    """Each column's shape score: `[{"column", "metric", "score"}]` in the schema's order."""
    kinds = column_kinds(real, schema)
    _check_frames(real, synthetic, kinds)
    details = []
    for name, kind in kinds.items():
        numeric = kind in NUMERIC_KINDS
        score = (ks_complement if numeric else tv_complement)(real[name], synthetic[name])
        details.append({"column": name, "metric": "KSComplement" if numeric else "TVComplement",
                        "score": score})
    return details


# === Column-pair trends (SDMetrics CorrelationSimilarity / ContingencySimilarity) ===


def correlation_similarity(real, synthetic):
    """`{"score", "real", "synthetic"}` of two numeric columns (two-column frames).

    As SDMetrics' `CorrelationSimilarity` with Pearson's r: rows with a missing value
    dropped, score 1 - |r_real - r_synthetic| / 2; NaN when a column is constant (in either
    frame) or a correlation is undefined.
    """
    from scipy.stats import pearsonr

    nan = float("nan")
    if (real.nunique() == 1).any() or (synthetic.nunique() == 1).any():
        return {"score": nan, "real": nan, "synthetic": nan}
    real, synthetic = real.dropna(), synthetic.dropna()
    first, second = real.columns[:2]

    def correlation(frame):
        if len(frame) < 2:
            return nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(pearsonr(frame[first].astype(np.float64),
                                  frame[second].astype(np.float64))[0])

    real_r, synthetic_r = correlation(real), correlation(synthetic)
    score = nan if np.isnan(real_r) or np.isnan(synthetic_r) else 1 - abs(real_r - synthetic_r) / 2
    return {"score": float(score), "real": real_r, "synthetic": synthetic_r}


def contingency_similarity(real, synthetic, seed=0):
    """`{"score", "real_association"}` of two discrete(-ised) columns (two-column frames).

    As SDMetrics' `ContingencySimilarity`: joint frequencies with missing values as a value
    of their own, score 1 - the total variation distance between them; `real_association`
    is Cramer's V of the real contingency table (NaN when it has fewer than two rows or
    columns). Frames longer than `CONTINGENCY_MAX_ROWS` are subsampled (seeded here).
    """
    from scipy.stats.contingency import association

    columns = list(real.columns[:2])
    if max(len(real), len(synthetic)) > CONTINGENCY_MAX_ROWS:
        real = real.sample(min(CONTINGENCY_MAX_ROWS, len(real)), random_state=seed)
        synthetic = synthetic.sample(min(CONTINGENCY_MAX_ROWS, len(synthetic)),
                                     random_state=seed)
    real_counts = real[columns].groupby(columns, dropna=False).size()
    table = real_counts.unstack(fill_value=0)
    real_association = float("nan")
    if table.to_numpy().sum() > 0 and min(table.shape) >= 2:
        real_association = float(association(table.to_numpy(), method="cramer"))
    real_frequency = real_counts / len(real)
    synthetic_frequency = synthetic[columns].groupby(columns, dropna=False).size() / len(
        synthetic)
    index = real_frequency.index.union(synthetic_frequency.index, sort=False).drop_duplicates()
    difference = (real_frequency.reindex(index, fill_value=0)
                  - synthetic_frequency.reindex(index, fill_value=0)).abs().fillna(0)
    return {"score": float(1 - difference.sum() / 2), "real_association": real_association}


def _discretised(frame, kinds):
    """Each numeric column cut into its own 10 histogram bins, as SDMetrics' report does
    (missing values fall in an 11th bin)."""
    columns = {}
    for name, kind in kinds.items():
        if kind in NUMERIC_KINDS:
            values = frame[name].astype(np.float64)
            edges = np.histogram_bin_edges(values.dropna(), bins=CONTINGENCY_BINS)
            columns[name] = np.digitize(values, bins=edges)
    return pd.DataFrame(columns, index=frame.index)


def column_pair_trends(real, synthetic, schema=None, seed=0):
    """Every pair's trend score: `[{"columns", "metric", "score", "real_correlation",
    "synthetic_correlation", "real_association", "meets_threshold"}]`.

    Two numbers: `correlation_similarity`; otherwise `contingency_similarity` (a number
    paired with a category is discretised). `meets_threshold` says whether SDMetrics'
    QualityReport counts the pair (|real r| > 0.5 or real Cramer's V > 0.3).
    """
    kinds = column_kinds(real, schema)
    _check_frames(real, synthetic, kinds)
    real_bins, synthetic_bins = _discretised(real, kinds), _discretised(synthetic, kinds)
    details = []
    nan = float("nan")
    for first, second in itertools.combinations(kinds, 2):
        numeric = (kinds[first] in NUMERIC_KINDS, kinds[second] in NUMERIC_KINDS)
        row = {"columns": [first, second], "real_correlation": nan,
               "synthetic_correlation": nan, "real_association": nan}
        if all(numeric):
            result = correlation_similarity(real[[first, second]], synthetic[[first, second]])
            row.update(metric="CorrelationSimilarity", score=result["score"],
                       real_correlation=result["real"],
                       synthetic_correlation=result["synthetic"],
                       meets_threshold=bool(abs(result["real"]) > REAL_CORRELATION_THRESHOLD))
        else:
            def pair(frame, bins):
                return pd.concat([bins[name] if numeric[i] else frame[name]
                                  for i, name in enumerate((first, second))], axis=1)

            result = contingency_similarity(pair(real, real_bins),
                                            pair(synthetic, synthetic_bins), seed=seed)
            association = result["real_association"]
            row.update(metric="ContingencySimilarity", score=result["score"],
                       real_association=association,
                       meets_threshold=bool(association > REAL_ASSOCIATION_THRESHOLD))
        if np.isnan(row["score"]):
            row["meets_threshold"] = False
        details.append(row)
    return details


def quality_report(real, synthetic, schema=None, seed=0):
    """The quality score as SDMetrics' single-table `QualityReport` computes it.

    Returns a dict: "score" (the mean of the two properties that have a value),
    "column_shapes" (mean of the column scores), "column_pair_trends" (mean over the pairs
    that meet the real-trend thresholds; NaN when none does), "column_pair_trends_all" (mean
    over every pair, thresholds ignored), and the "shapes" and "pairs" details.
    """
    shapes = column_shapes(real, synthetic, schema)
    pairs = column_pair_trends(real, synthetic, schema, seed=seed)
    shape_score = _nanmean([row["score"] for row in shapes])
    trend_score = _nanmean([row["score"] for row in pairs if row["meets_threshold"]])
    all_pairs = _nanmean([row["score"] for row in pairs])
    return {"score": _nanmean([shape_score, trend_score]), "column_shapes": shape_score,
            "column_pair_trends": trend_score, "column_pair_trends_all": all_pairs,
            "shapes": shapes, "pairs": pairs}


def _nanmean(values):
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


# === One encoding for models and distances ===


class TableEncoder:
    """Encodes mixed-kind rows as a float64 matrix, fitted on one frame.

    Numbers: standardised by the fitting frame's mean and standard deviation (1 when it is
    0); a missing number becomes 0, with a 0/1 missing column when the fitting frame has
    missing values in that column. Categories (booleans too): one-hot over the fitting
    frame's values as strings, missing being a value of its own; values the fitting frame
    lacks encode as all zeros.

    Example:

    ```python
    encoder = TableEncoder(train, {"age": "integer", "city": "categorical"})
    matrix = encoder.transform(synthetic)   # (len(synthetic), encoder.width)
    ```

    Args:
        frame: the fitting rows (a DataFrame).
        kinds: `{column: kind}` of the columns to encode, in order.
    """

    def __init__(self, frame, kinds):
        self.kinds = dict(kinds)
        self.numbers, self.categories = {}, {}
        for name, kind in self.kinds.items():
            if kind in NUMERIC_KINDS:
                values = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
                mean = float(values.mean()) if values.notna().any() else 0.0
                std = float(values.std(ddof=0)) if values.notna().sum() > 1 else 0.0
                self.numbers[name] = (mean, std if std > 0 else 1.0, bool(values.isna().any()))
            else:
                self.categories[name] = sorted(set(_as_strings(frame[name])))
        self.width = sum(1 + missing for _, _, missing in self.numbers.values()) + sum(
            len(values) for values in self.categories.values())

    def transform(self, frame):
        """The rows of `frame` as a `(len(frame), width)` float64 matrix."""
        blocks = []
        for name in self.kinds:
            if name in self.numbers:
                mean, std, has_missing = self.numbers[name]
                values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
                missing = np.isnan(values)
                blocks.append(np.where(missing, 0.0, (values - mean) / std)[:, None])
                if has_missing:
                    blocks.append(missing.astype(np.float64)[:, None])
            else:
                values = _as_strings(frame[name])
                known = self.categories[name]
                blocks.append((values[:, None] == np.asarray(known, object)[None, :])
                              .astype(np.float64))
        if not blocks:
            return np.zeros((len(frame), 0))
        return np.concatenate(blocks, axis=1)


def _as_strings(series):
    """A column's values as the schema's category strings (1 and 1.0 -> "1", True ->
    "True"), missing values as `MISSING` (an object array)."""
    from gan_tf.tables.schema import column_values_as_strings

    strings = np.asarray(column_values_as_strings(pd.Series(series)), dtype=object)
    strings[pd.isna(strings)] = MISSING
    return strings


def _row_keys(frame, kinds):
    """One hashable key per row: numbers as floats (3 and 3.0 equal), missing values equal."""
    columns = []
    for name, kind in kinds.items():
        if kind in NUMERIC_KINDS:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
            columns.append(np.where(np.isnan(values), None, values).astype(object))
        else:
            columns.append(_as_strings(frame[name]))
    return list(zip(*columns)) if columns else [()] * len(frame)


def single_threaded():
    """A context in which scikit-learn's OpenMP code (gradient boosting) runs on one thread.

    The models here are small; on a machine whose cores are busy (other processes, a
    training run) OpenMP's threads spin-wait for them, and one gradient-boosting fit of 400
    rows measured 9.5 s with the default threads against 0.24 s on one.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


# === Detection ===


def detection(real, synthetic, schema=None, folds=5, seed=0, max_rows=5000):
    """How well classifiers tell real rows from synthetic ones: cross-validated ROC AUC.

    Takes as many rows of each (at most `max_rows`, drawn with `seed`), encodes them with a
    `TableEncoder` fitted on the real rows, and scores out-of-fold predicted probabilities of
    a logistic regression and a histogram gradient-boosting classifier (stratified `folds`).
    Pass real rows the generator never trained on (held-out rows), or a memorising
    generator looks perfect.

    Returns:
        `{"auc": the larger of the two, "logistic_regression", "gradient_boosting",
        "rows_each"}`; 0.5 means indistinguishable.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    check_positive_int("folds", folds)
    check_seed(seed)
    kinds = column_kinds(real, schema)
    _check_frames(real, synthetic, kinds)
    rows = min(len(real), len(synthetic), max_rows)
    if rows < folds:
        raise UserError(f"Detection needs at least folds={folds} real and synthetic rows; "
                        f"received {len(real)} real and {len(synthetic)} synthetic rows. Pass "
                        "more rows (or fewer folds).")
    rng = np.random.default_rng(seed)
    real = real.iloc[np.sort(rng.choice(len(real), rows, replace=False))]
    synthetic = synthetic.iloc[np.sort(rng.choice(len(synthetic), rows, replace=False))]
    encoder = TableEncoder(real, kinds)
    features = np.concatenate([encoder.transform(real), encoder.transform(synthetic)])
    labels = np.concatenate([np.zeros(rows), np.ones(rows)])
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    result = {"rows_each": int(rows)}
    models = {"logistic_regression": LogisticRegression(max_iter=1000),
              "gradient_boosting": HistGradientBoostingClassifier(random_state=seed)}
    with single_threaded():
        for name, model in models.items():
            probabilities = cross_val_predict(model, features, labels, cv=splitter,
                                              method="predict_proba")[:, 1]
            result[name] = float(roc_auc_score(labels, probabilities))
    result["auc"] = max(result[name] for name in models)
    return result


# === Machine-learning efficacy ===


def target_task(kind):
    """"classification" for a categorical or boolean target, "regression" for a number."""
    return "regression" if kind in NUMERIC_KINDS else "classification"


def efficacy_models(task, seed=0):
    """The standard scikit-learn models efficacy trains: `{name: unfitted model}`."""
    from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return {"logistic_regression": LogisticRegression(max_iter=1000),
                "random_forest": RandomForestClassifier(100, random_state=seed, n_jobs=1),
                "gradient_boosting": HistGradientBoostingClassifier(random_state=seed)}
    return {"ridge": Ridge(1.0),
            "random_forest": RandomForestRegressor(100, random_state=seed, n_jobs=1),
            "gradient_boosting": HistGradientBoostingRegressor(random_state=seed)}


def check_target(frame, schema, target):
    """`(kinds without the target, target kind)`; UserError when the target is unusable."""
    kinds = column_kinds(frame, schema)
    if target is None:
        target = getattr(schema, "target", None)
    if target not in kinds:
        raise UserError(f"Efficacy needs a target column to predict; received target="
                        f"{target!r}, the table's columns are "
                        f"{', '.join(map(repr, list(kinds)[:20]))}. Train the run with "
                        "--target=COLUMN (or pass target=).")
    features = {name: kind for name, kind in kinds.items() if name != target}
    if not features:
        raise UserError(f"The table has no column besides the target {target!r} to predict "
                        "it from. Pass a table with feature columns.")
    return features, kinds[target], target


def fit_and_score(model, task, train_x, train_y, test_x, test_y):
    """`{"f1", "accuracy"}` (classification: macro F1) or `{"r2"}` of `model` fitted on the
    training matrix and tested on the test matrix. A training target with one class gives
    the constant prediction of that class."""
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if task == "classification":
        classes = np.unique(train_y)
        if classes.size < 2:
            predicted = np.full(len(test_y), classes[0], dtype=object)
        else:
            predicted = model.fit(train_x, train_y).predict(test_x)
        return {"f1": float(f1_score(test_y, predicted, average="macro", zero_division=0)),
                "accuracy": float(accuracy_score(test_y, predicted))}
    return {"r2": float(r2_score(test_y, model.fit(train_x, train_y).predict(test_x)))}


def target_values(frame, target, task):
    """The target as the models take it (strings for classes, floats for numbers) and the
    mask of rows where it is present."""
    present = frame[target].notna().to_numpy()
    if task == "classification":
        return _as_strings(frame[target]), present
    return pd.to_numeric(frame[target], errors="coerce").to_numpy(np.float64), present


def efficacy(real_train, real_test, synthetic, schema=None, target=None, seed=0):
    """Train on synthetic rows, test on real held-out rows, against train on real rows.

    Each of `efficacy_models` is trained once on the real training rows and once on the
    synthetic rows (features encoded by a `TableEncoder` fitted on the real training rows;
    rows without a target dropped) and tested on `real_test`.

    Returns:
        `{"task", "metric" ("f1" or "r2"), "real": {model: scores}, "synthetic": {model:
        scores}, "real_mean", "synthetic_mean", "ratio"}` where ratio is synthetic_mean /
        real_mean of the metric (macro F1 for classes, R2 for numbers); None when the real
        score is not positive.
    """
    check_seed(seed)
    features, target_kind, target = check_target(real_train, schema, target)
    _check_frames(real_train, synthetic, features)
    _check_frames(real_train, real_test, features)
    task = target_task(target_kind)
    metric = "f1" if task == "classification" else "r2"
    encoder = TableEncoder(real_train, features)
    test_y, test_present = target_values(real_test, target, task)
    test_x = encoder.transform(real_test)[test_present]
    test_y = test_y[test_present]
    result = {"task": task, "metric": metric, "target": target,
              "test_rows": int(test_present.sum())}
    for arm, frame in (("real", real_train), ("synthetic", synthetic)):
        train_y, present = target_values(frame, target, task)
        if not present.any():
            raise UserError(f"The {arm} rows have no value in the target column {target!r}; "
                            "efficacy trains on them. Pass rows with targets.")
        train_x = encoder.transform(frame)[present]
        with single_threaded():
            result[arm] = {name: fit_and_score(model, task, train_x, train_y[present], test_x,
                                               test_y)
                           for name, model in efficacy_models(task, seed).items()}
        result[arm + "_mean"] = float(np.mean([scores[metric]
                                               for scores in result[arm].values()]))
        result[arm + "_rows"] = int(present.sum())
    real_mean = result["real_mean"]
    result["ratio"] = result["synthetic_mean"] / real_mean if real_mean > 0 else None
    return result


# === Privacy ===


def privacy(real_train, real_test, synthetic, schema=None, max_rows=5000, seed=0):
    """Distance to the closest training row, synthetic rows against real held-out rows.

    Rows are encoded with a `TableEncoder` fitted on the training rows (Euclidean distance;
    at most `max_rows` synthetic and held-out rows, drawn with `seed`). An exact copy is a
    row equal to a training row in every column (missing equals missing; 3 equals 3.0).

    New real rows show what "close" means for this table: the warning is raised when
    synthetic rows are closer than they are, that is when (beyond the 95% Wilson interval of
    the share) more than 5% of synthetic rows are nearer than the held-out rows'
    5th-percentile distance, or more than 60% are nearer than the held-out rows' median
    distance (half are expected; this catches near-copies in tables where many real rows
    repeat, which make the 5th percentile 0), or the share of exact copies is above the
    held-out rows' own share.

    Returns:
        `{"synthetic": {...}, "holdout": {...}, "closer_than_holdout_p5",
        "closer_than_holdout_median", "warning"}`, each
        side with "rows", "exact_copies", "exact_copy_rate" and the distance's "median",
        "p5" and "mean"; "warning" is None or one sentence.
    """
    from sklearn.neighbors import NearestNeighbors

    from gan_tf import stats

    check_positive_int("max_rows", max_rows)
    kinds = column_kinds(real_train, schema)
    _check_frames(real_train, synthetic, kinds)
    _check_frames(real_train, real_test, kinds)
    rng = np.random.default_rng(seed)

    def subset(frame):
        if len(frame) <= max_rows:
            return frame
        return frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))]

    synthetic, real_test = subset(synthetic), subset(real_test)
    encoder = TableEncoder(real_train, kinds)
    finder = NearestNeighbors(n_neighbors=1).fit(encoder.transform(real_train))
    training_keys = set(_row_keys(real_train, kinds))
    result = {}
    for side, frame in (("synthetic", synthetic), ("holdout", real_test)):
        distances = finder.kneighbors(encoder.transform(frame))[0][:, 0]
        copies = sum(key in training_keys for key in _row_keys(frame, kinds))
        result[side] = {"rows": int(len(frame)), "exact_copies": int(copies),
                        "exact_copy_rate": copies / len(frame),
                        "median": float(np.median(distances)),
                        "p5": float(np.quantile(distances, PRIVACY_QUANTILE)),
                        "mean": float(distances.mean()), "_distances": distances}
    threshold = result["holdout"]["p5"]
    synthetic_distances = result["synthetic"].pop("_distances")
    result["holdout"].pop("_distances")
    closer = int(np.sum(synthetic_distances < threshold))
    result["closer_than_holdout_p5"] = closer / len(synthetic_distances)
    reasons = []
    low, _ = stats.wilson_interval(closer, len(synthetic_distances))
    if low > PRIVACY_QUANTILE:
        reasons.append(f"{100 * closer / len(synthetic_distances):.1f}% of synthetic rows are "
                       f"closer to a training row than 95% of new real rows are (5% expected)")
    nearer = int(np.sum(synthetic_distances < result["holdout"]["median"]))
    result["closer_than_holdout_median"] = nearer / len(synthetic_distances)
    low, _ = stats.wilson_interval(nearer, len(synthetic_distances))
    if low > PRIVACY_MEDIAN_SHARE:
        reasons.append(f"{100 * nearer / len(synthetic_distances):.1f}% of synthetic rows are "
                       "closer to a training row than the median new real row is (50% "
                       "expected)")
    copies = result["synthetic"]["exact_copies"]
    low, _ = stats.wilson_interval(copies, result["synthetic"]["rows"])
    if low > result["holdout"]["exact_copy_rate"]:
        reasons.append(f"{copies} synthetic rows ({100 * copies / result['synthetic']['rows']:.1f}"
                       f"%) copy a training row exactly, against "
                       f"{100 * result['holdout']['exact_copy_rate']:.1f}% of new real rows")
    result["warning"] = ("Warning: synthetic rows sit closer to the training rows than new "
                         "real rows do: " + "; ".join(reasons) + ". The generator may be "
                         "memorising; train it for fewer epochs or on more rows before "
                         "sharing its rows." if reasons else None)
    return result
