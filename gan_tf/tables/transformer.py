"""The table's representation for the GAN: mode-specific normalisation, one-hot, missing flags.

Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019, section 4.2. Each
numeric column (continuous or integer) is fitted with a variational Gaussian mixture
(scikit-learn's `BayesianGaussianMixture`, a Dirichlet-process prior, at most `max_modes`
modes, modes weighing less than `weight_threshold` dropped). A value `c` becomes the scalar
`alpha = (c - eta_k) / (4 phi_k)` (clipped to [-0.99, 0.99], the generator's `tanh` part) and
the one-hot `beta` of the mode `k`, drawn from the mode probabilities of `c`. A categorical or
boolean column becomes the one-hot of its category. A column with missing values gets a
missing flag: an extra "missing" category for a discrete column, a two-way one-hot
(present, missing) after a numeric column's mode, so the missing rate is learned like any
other category and reproduced.

The inverse is exact: `inverse_transform(transform(frame))` gives `frame` back (numbers up to
float32 round-off, integers exactly), named and typed by the schema (`schema.decode_column`).
The fitted state (`to_json`, `from_json`) is plain JSON. NumPy/scikit-learn only: the
TensorFlow side of the same decoding is `decode_tensors`, which the exported SavedModel
carries.
"""

import dataclasses
import time
import warnings

import numpy as np
import pandas as pd

from gan_tf.errors import UserError, check_positive_int, invalid
from gan_tf.tables import schema as schema_lib

MAX_MODES = 10  # the paper's m
WEIGHT_THRESHOLD = 0.005  # modes below this weight are dropped (the paper's 0.005)
FIT_ROWS = 10_000  # the mixtures are fitted on at most this many values per column
ALPHA_LIMIT = 0.99
TANH, SOFTMAX = "tanh", "softmax"
VALUE, MODE, MISSING, CATEGORY = "value", "mode", "missing", "category"
TRANSFORMER_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Span:
    """A slice `[start, start + width)` of a row: one column's value, mode, missing flag or
    category; `activation` is what the generator applies to it (`tanh` or `softmax`)."""

    column: str
    role: str
    start: int
    width: int
    activation: str

    @property
    def end(self):
        return self.start + self.width


class TableTransformer:
    """Turns a table (a pandas DataFrame with a schema) into float32 rows and back.

    Example:

    ```python
    schema = infer_schema(frame, target="label")
    transformer = TableTransformer(schema).fit(frame, seed=0)
    rows = transformer.transform(frame, seed=0)     # (len(frame), transformer.output_dim)
    back = transformer.inverse_transform(rows)       # frame again, same columns and dtypes
    ```

    Args:
        schema: the table's `schema.TableSchema`.
        max_modes: most mixture modes per numeric column. Defaults to 10 (the paper's).
        weight_threshold: modes with a smaller weight are dropped. Defaults to 0.005.
        fit_rows: the mixtures are fitted on a random sample of at most this many rows (all
            rows of a smaller table): what keeps fitting a small part of a run on a large
            table. Defaults to 10,000.
    """

    def __init__(self, schema, max_modes=MAX_MODES, weight_threshold=WEIGHT_THRESHOLD,
                 fit_rows=FIT_ROWS):
        check_positive_int("max_modes", max_modes)
        check_positive_int("fit_rows", fit_rows)
        if not 0 <= weight_threshold < 1:
            raise invalid("weight_threshold", weight_threshold, "a number in [0, 1), e.g. 0.005")
        self.schema = schema
        self.max_modes = int(max_modes)
        self.weight_threshold = float(weight_threshold)
        self.fit_rows = int(fit_rows)
        self.modes = {}  # numeric column -> {"means": [...], "stds": [...], "weights": [...]}
        self.fit_seconds = None
        self.fit_sample_rows = None
        self.spans = ()

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, frame, seed=0):
        """Fits a mixture to each numeric column of `frame` (a sample of `fit_rows` rows)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        self.schema.check_frame(frame)
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        sample = frame
        if len(frame) > self.fit_rows:
            sample = frame.iloc[np.sort(rng.choice(len(frame), self.fit_rows, replace=False))]
        self.fit_sample_rows = len(sample)
        self.modes = {}
        for column in self.schema.columns:
            if column.discrete:
                continue
            values = pd.to_numeric(sample[column.name], errors="coerce").dropna().to_numpy(
                np.float64)
            modes = _fit_modes(values, column, self.max_modes, self.weight_threshold, seed,
                               BayesianGaussianMixture, ConvergenceWarning)
            every = pd.to_numeric(frame[column.name], errors="coerce").dropna().to_numpy(
                np.float64)
            self.modes[column.name] = _cover(modes, every)
        self.fit_seconds = time.perf_counter() - started
        self.spans = self._layout()
        return self

    def _layout(self):
        spans, start = [], 0
        for column in self.schema.columns:
            parts = []
            if column.discrete:
                width = len(column.categories) + (1 if column.missing_rate > 0 else 0)
                parts.append((CATEGORY, width, SOFTMAX))
            else:
                parts.append((VALUE, 1, TANH))
                parts.append((MODE, len(self.modes[column.name]["means"]), SOFTMAX))
                if column.missing_rate > 0:
                    parts.append((MISSING, 2, SOFTMAX))
            for role, width, activation in parts:
                spans.append(Span(column.name, role, start, width, activation))
                start += width
        return tuple(spans)

    def _check_fitted(self):
        if not self.spans:
            raise UserError("The TableTransformer is not fitted: call fit(frame) first, or load "
                            "a fitted one with TableTransformer.from_json.")

    @property
    def output_dim(self):
        """The width of a transformed row."""
        self._check_fitted()
        return self.spans[-1].end

    def column_spans(self, name):
        """The spans of column `name`, in order."""
        return tuple(span for span in self.spans if span.column == name)

    # --- the conditional vector's layout ---------------------------------------------------

    @property
    def condition_spans(self):
        """The category spans of the discrete columns: the conditional vector is their
        one-hots side by side (the missing slot included), in this order."""
        self._check_fitted()
        return tuple(span for span in self.spans if span.role == CATEGORY)

    @property
    def condition_dim(self):
        return sum(span.width for span in self.condition_spans)

    def condition_index(self, column, value):
        """The position in the conditional vector of `column` = `value` (a `UserError`
        naming the choices if the column is not discrete or the value was never seen)."""
        spans = {span.column: span for span in self.condition_spans}
        if column not in spans:
            choices = ", ".join(spans) or "none: the table has no categorical column"
            raise invalid("condition", f"{column}={value}",
                          f"COLUMN=VALUE with a categorical or boolean column ({choices})")
        categories = self.schema.column(column).categories
        text = schema_lib.category_string(value) if not isinstance(value, str) else value
        if text not in categories:
            raise invalid("condition", f"{column}={value}",
                          f"a value {column} has in the table: {', '.join(categories)}")
        offset = 0
        for span in self.condition_spans:
            if span.column == column:
                return offset + categories.index(text)
            offset += span.width
        raise AssertionError("unreachable")

    # --- forward -----------------------------------------------------------------------------

    def transform(self, frame, seed=0):
        """`frame` as float32 rows `(len(frame), output_dim)`.

        The mode of each numeric value is drawn from its mode probabilities with a NumPy
        generator seeded by `seed` (the paper samples it), so the result is a pure function
        of (frame, seed).
        """
        self._check_fitted()
        self.schema.check_frame(frame)
        rng = np.random.default_rng([seed, 1])
        rows = np.zeros((len(frame), self.output_dim), np.float32)
        for column in self.schema.columns:
            spans = self.column_spans(column.name)
            series = frame[column.name]
            if column.discrete:
                self._encode_discrete(rows, series, column, spans[0])
            else:
                self._encode_numeric(rows, series, column, spans, rng)
        return rows

    def _encode_discrete(self, rows, series, column, span):
        strings = schema_lib.column_values_as_strings(series)
        lookup = {category: i for i, category in enumerate(column.categories)}
        missing_slot = len(column.categories)
        indices = np.empty(len(strings), np.int64)
        for i, text in enumerate(strings):
            if text is None:
                if column.missing_rate == 0:
                    raise UserError(f"Column {column.name!r} has a missing value in row {i}, "
                                    "but had none when the run was trained. Fill it in, or "
                                    "train on a table with missing values in that column.")
                indices[i] = missing_slot
            elif text not in lookup:
                raise UserError(f"Column {column.name!r} has the value {text!r} in row {i}, "
                                "which the run never saw; it knows "
                                f"{', '.join(column.categories)}. Train on a table that has it.")
            else:
                indices[i] = lookup[text]
        rows[np.arange(len(strings)), span.start + indices] = 1.0

    def _encode_numeric(self, rows, series, column, spans, rng):
        state = self.modes[column.name]
        means, stds, weights = (np.asarray(state[key]) for key in ("means", "stds", "weights"))
        values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
        missing = np.isnan(values)
        if missing.any() and column.missing_rate == 0:
            raise UserError(f"Column {column.name!r} has {int(missing.sum())} missing values, "
                            "but had none when the run was trained. Fill them in, or train on "
                            "a table with missing values in that column.")
        filled = np.where(missing, means[np.argmax(weights)], values)
        probabilities = mode_probabilities(filled, means, stds, weights)
        # Only modes within reach of tanh (|alpha| < 0.99) are drawn, so the inverse is exact;
        # a value no mode reaches (none in the fitted sample) takes its nearest mode, clipped.
        reach = np.abs(filled[:, None] - means[None, :]) / (4 * stds[None, :])
        within = reach < ALPHA_LIMIT
        nearest = np.eye(len(means))[np.argmin(reach, axis=1)]
        probabilities = np.where(within.any(axis=1, keepdims=True),
                                 probabilities * within, nearest)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        uniforms = rng.random(len(values))
        modes = (probabilities.cumsum(axis=1) < uniforms[:, None]).sum(axis=1)
        modes = np.minimum(modes, len(means) - 1)
        modes = np.where(missing, np.argmax(weights), modes)
        alpha = np.clip((filled - means[modes]) / (4 * stds[modes]), -ALPHA_LIMIT, ALPHA_LIMIT)
        alpha = np.where(missing, 0.0, alpha)
        value_span, mode_span = spans[0], spans[1]
        index = np.arange(len(values))
        rows[:, value_span.start] = alpha
        rows[index, mode_span.start + modes] = 1.0
        if len(spans) > 2:
            rows[index, spans[2].start + missing.astype(np.int64)] = 1.0

    # --- inverse -----------------------------------------------------------------------------

    def inverse_transform(self, rows):
        """Rows `(n, output_dim)` back to a DataFrame with the schema's columns and dtypes.

        Each softmax span is read by its largest entry (so a generator's soft outputs decode
        too); numbers are clipped to the column's observed range, integers rounded.
        """
        self._check_fitted()
        rows = np.asarray(rows, np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.output_dim:
            raise invalid("rows", f"an array of shape {rows.shape}",
                          f"shape (num_rows, {self.output_dim})")
        columns = {}
        for column in self.schema.columns:
            spans = self.column_spans(column.name)
            if column.discrete:
                span = spans[0]
                indices = np.argmax(rows[:, span.start:span.end], axis=1)
                categories = np.array(list(column.categories) + [None], dtype=object)
                values = categories[np.minimum(indices, len(column.categories))]
            else:
                values = self._decode_numeric(rows, column, spans)
            columns[column.name] = schema_lib.decode_column(values, column)
        return pd.DataFrame(columns)

    def _decode_numeric(self, rows, column, spans):
        state = self.modes[column.name]
        means, stds = np.asarray(state["means"]), np.asarray(state["stds"])
        value_span, mode_span = spans[0], spans[1]
        modes = np.argmax(rows[:, mode_span.start:mode_span.end], axis=1)
        alpha = np.clip(rows[:, value_span.start], -1.0, 1.0)
        values = alpha * 4 * stds[modes] + means[modes]
        values = np.clip(values, column.minimum, column.maximum)
        if len(spans) > 2:
            missing = np.argmax(rows[:, spans[2].start:spans[2].end], axis=1) == 1
            values = np.where(missing, np.nan, values)
        return values

    # --- saving ------------------------------------------------------------------------------

    def to_json(self):
        self._check_fitted()
        return {"version": TRANSFORMER_VERSION, "schema": self.schema.to_json(),
                "max_modes": self.max_modes, "weight_threshold": self.weight_threshold,
                "fit_rows": self.fit_rows, "fit_sample_rows": self.fit_sample_rows,
                "fit_seconds": self.fit_seconds, "modes": self.modes}

    @classmethod
    def from_json(cls, data):
        try:
            transformer = cls(schema_lib.TableSchema.from_json(data["schema"]),
                              max_modes=data["max_modes"],
                              weight_threshold=data["weight_threshold"],
                              fit_rows=data["fit_rows"])
            transformer.modes = {name: {key: [float(v) for v in values]
                                        for key, values in state.items()}
                                 for name, state in data["modes"].items()}
        except (KeyError, TypeError, AttributeError) as error:
            raise UserError(f"Invalid table transformer state: {error!r} is missing or "
                            "malformed. Was transformer.json edited or truncated? Train the "
                            "run again to rewrite it.") from None
        transformer.fit_sample_rows = data.get("fit_sample_rows")
        transformer.fit_seconds = data.get("fit_seconds")
        transformer.spans = transformer._layout()
        return transformer


def mode_probabilities(values, means, stds, weights):
    """`P(mode k | value)` for each value, `(len(values), len(means))`: weights times normal
    densities, normalised (computed in log space, so far-out values still get a mode)."""
    values = np.asarray(values, np.float64)[:, None]
    log_density = (np.log(np.maximum(weights, 1e-300))[None, :] - np.log(stds)[None, :]
                   - 0.5 * np.square((values - means[None, :]) / stds[None, :]))
    log_density -= log_density.max(axis=1, keepdims=True)
    probabilities = np.exp(log_density)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def _cover(modes, values):
    """`modes` with each mode widened just enough that every value is within tanh's reach
    (`|alpha| < 0.99`) of some mode: values the fitting sample did not hold decode exactly."""
    means, stds = np.asarray(modes["means"]), np.asarray(modes["stds"])
    distance = np.abs(values[:, None] - means[None, :])
    reach = distance / (4 * stds[None, :])
    far = reach.min(axis=1) >= ALPHA_LIMIT * 0.99
    if far.any():
        nearest = np.argmin(reach[far], axis=1)
        for mode in np.unique(nearest):
            widest = distance[far][nearest == mode, mode].max()
            stds[mode] = max(stds[mode], widest / (4 * ALPHA_LIMIT * 0.98))
    return {**modes, "stds": [float(v) for v in stds]}


def _fit_modes(values, column, max_modes, weight_threshold, seed, mixture_class,
               convergence_warning):
    """The kept modes of a column's variational Gaussian mixture: means, stds, weights."""
    spread = float(np.ptp(values)) if len(values) else 0.0
    floor = max(spread * 1e-3, 1e-6)  # no mode narrower than this: integers, repeated values
    distinct = len(np.unique(values))
    components = max(1, min(max_modes, distinct, len(values)))
    if components == 1:
        return {"means": [float(values.mean())], "stds": [max(float(values.std()), floor)],
                "weights": [1.0]}
    mixture = mixture_class(
        n_components=components, weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001, max_iter=100, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", convergence_warning)
        mixture.fit(values.reshape(-1, 1))
    weights = mixture.weights_
    keep = weights > weight_threshold
    if not keep.any():
        keep = weights == weights.max()
    means = mixture.means_.reshape(-1)[keep]
    stds = np.maximum(np.sqrt(mixture.covariances_.reshape(-1)[keep]), floor)
    kept = weights[keep] / weights[keep].sum()
    order = np.argsort(means)
    return {"means": [float(v) for v in means[order]], "stds": [float(v) for v in stds[order]],
            "weights": [float(v) for v in kept[order]]}
