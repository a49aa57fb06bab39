"""Two plain synthesizers that any tabular GAN must beat (numpy/pandas/SciPy, no TensorFlow).

- `IndependentColumns`: each column drawn on its own from its observed values (missing
  values included): every column's shape is kept, every relation between columns lost.
- `GaussianCopula`: each column mapped to a standard normal through its empirical
  distribution, the correlation matrix of those normal scores fitted, and new rows drawn
  from that multivariate normal and mapped back. Categories occupy intervals of [0, 1] as
  wide as their frequencies (a value is a uniform draw inside its category's interval); a
  numeric column with missing values gets a 0/1 "missing" column of its own in the copula,
  so how often a value is missing can depend on the other columns. Numbers come back as
  quantiles of the observed values (integers rounded), so no value lies outside the
  observed range.

Both are seeded: the same seed gives the same rows.

Example:

```python
model = GaussianCopula().fit(train_frame, schema)
rows = model.sample(1000, seed=0)   # a DataFrame with train_frame's columns and dtypes
```
"""

import numpy as np
import pandas as pd

from gan_tf.errors import UserError, check_positive_int, check_seed
from gan_tf.tables import metrics


def _check_fit_frame(frame):
    if not isinstance(frame, pd.DataFrame) or not len(frame):
        raise UserError(f"A baseline fits on a non-empty pandas DataFrame; received "
                        f"{type(frame).__name__} with {len(frame) if hasattr(frame, '__len__') else 0}"
                        " rows. Pass the training rows.")


def _restore(values, original, kind):
    """A Series of `values` with the dtype `original` had (integers stay integers)."""
    series = pd.Series(values, name=original.name)
    if kind in metrics.NUMERIC_KINDS:
        numbers = pd.to_numeric(series, errors="coerce").astype(np.float64)
        if kind == "integer":
            numbers = numbers.round()
        if pd.api.types.is_integer_dtype(original) and not numbers.isna().any():
            return numbers.astype(original.dtype)
        return numbers
    if pd.api.types.is_bool_dtype(original) and not series.isna().any():
        return series.astype(bool)
    return series.astype(object).where(series.notna(), np.nan)


class IndependentColumns:
    """Each column drawn independently from its observed values (missing ones included)."""

    def fit(self, frame, schema=None):
        """Remembers each column's values; returns self."""
        _check_fit_frame(frame)
        self.kinds = metrics.column_kinds(frame, schema)
        self.template = frame[list(self.kinds)].iloc[:0]
        self.values = {name: frame[name].to_numpy(object) for name in self.kinds}
        return self

    def sample(self, num_rows, seed=0):
        """`num_rows` rows as a DataFrame with the fitted frame's columns and dtypes."""
        check_positive_int("num_rows", num_rows)
        check_seed(seed)
        rng = np.random.default_rng(seed)
        columns = {}
        for name, kind in self.kinds.items():
            values = self.values[name]
            columns[name] = _restore(values[rng.integers(0, len(values), num_rows)],
                                     self.template[name], kind)
        return pd.DataFrame(columns)


class GaussianCopula:
    """A Gaussian copula over empirical marginals (see the module's docstring)."""

    def fit(self, frame, schema=None):
        """Fits the marginals and the normal scores' correlation matrix; returns self."""
        from scipy.special import ndtri

        _check_fit_frame(frame)
        self.kinds = metrics.column_kinds(frame, schema)
        self.template = frame[list(self.kinds)].iloc[:0]
        self.margins = []  # (name, "number" | "missing" | "category", state)
        rng = np.random.default_rng(0)
        scores = []
        rows = len(frame)
        for name, kind in self.kinds.items():
            column = frame[name]
            if kind in metrics.NUMERIC_KINDS:
                numbers = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
                present = ~np.isnan(numbers)
                if not present.any():
                    self.margins.append((name, "missing", None))
                    continue
                observed = np.sort(numbers[present])
                # Normal scores of the ranks (ties broken at random), missing rows at 0.
                order = np.lexsort((rng.random(present.sum()), numbers[present]))
                ranks = np.empty(present.sum())
                ranks[order] = np.arange(1, present.sum() + 1)
                score = np.zeros(rows)
                score[present] = ndtri(ranks / (present.sum() + 1))
                self.margins.append((name, "number", observed))
                scores.append(score)
                if not present.all():
                    self.margins.append((name, "missing", 1.0 - present.mean()))
                    scores.append(self._category_scores(present.astype(np.int64),
                                                        np.array([1 - present.mean(),
                                                                  present.mean()]), rng))
            else:
                values = column.astype(object).where(column.notna(), None).to_numpy(object)
                keys = pd.Series(metrics._as_strings(column))
                counts = keys.value_counts(sort=True)
                categories = list(counts.index)
                originals = {key: value for key, value in zip(keys, values)}
                shares = counts.to_numpy(np.float64) / rows
                codes = keys.map({key: i for i, key in enumerate(categories)}).to_numpy()
                self.margins.append((name, "category",
                                     ([originals[key] for key in categories], shares)))
                scores.append(self._category_scores(codes, shares, rng))
        matrix = np.stack(scores, axis=1) if scores else np.zeros((rows, 0))
        correlation = np.corrcoef(matrix, rowvar=False) if matrix.shape[1] > 1 else np.ones(
            (matrix.shape[1], matrix.shape[1]))
        correlation = np.nan_to_num(np.atleast_2d(correlation))
        np.fill_diagonal(correlation, 1.0)
        # The nearest usable correlation matrix: negative eigenvalues (from constant columns
        # or rounding) clipped, then rescaled to a unit diagonal.
        values, vectors = np.linalg.eigh(correlation)
        fixed = (vectors * np.clip(values, 1e-6, None)) @ vectors.T
        scale = np.sqrt(np.diag(fixed))
        self.correlation = fixed / scale[:, None] / scale[None, :]
        return self

    @staticmethod
    def _category_scores(codes, shares, rng):
        """Normal scores of categories: a uniform draw inside each code's interval."""
        from scipy.special import ndtri

        upper = np.cumsum(shares)
        lower = upper - shares
        u = lower[codes] + rng.random(len(codes)) * shares[codes]
        return ndtri(np.clip(u, 1e-9, 1 - 1e-9))

    def sample(self, num_rows, seed=0):
        """`num_rows` rows as a DataFrame with the fitted frame's columns and dtypes."""
        from scipy.special import ndtr

        check_positive_int("num_rows", num_rows)
        check_seed(seed)
        rng = np.random.default_rng(seed)
        dimension = self.correlation.shape[0]
        normal = rng.multivariate_normal(np.zeros(dimension), self.correlation, num_rows,
                                         method="cholesky") if dimension else np.zeros(
            (num_rows, 0))
        uniform = ndtr(normal)
        columns, position = {}, 0
        for name, kind, state in self.margins:
            if kind == "missing" and state is None:  # a column that was always missing
                columns[name] = np.full(num_rows, np.nan)
                continue
            u = uniform[:, position]
            position += 1
            if kind == "number":
                columns[name] = np.quantile(state, u)
            elif kind == "missing":
                # The "missing" code is the first interval, as wide as the missing rate.
                columns[name] = np.where(u < state, np.nan, columns[name])
            else:
                values, shares = state
                index = np.minimum(np.searchsorted(np.cumsum(shares), u, side="right"),
                                   len(values) - 1)
                columns[name] = np.asarray(values, dtype=object)[index]
        return pd.DataFrame({name: _restore(columns[name], self.template[name], kind)
                             for name, kind in self.kinds.items()})
