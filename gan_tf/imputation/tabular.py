"""A table with holes to the matrices imputers work on, and their fills back to a table.

`TableCodec` is built from the table's `TableSchema` (`gan_tf.tables.schema`) and gives two
representations, both with every value in [0, 1]:

- *codes*, one column per table column: numbers min-max scaled over their observed range,
  a discrete column's category index divided by (number of categories - 1). The classical
  imputers and the scores of `compare` use it.
- *GAIN's matrix*: numbers as above, a discrete column one-hot (one matrix column per
  category, all missing together). The GAN fills each one-hot block and the category with the
  largest proposal wins.

`fill_frame` writes the fills into a copy of the table: observed entries are copied from the
input, untouched; filled ones are decoded by `gan_tf.tables.schema.decode_column`, so integer
columns get whole numbers inside their observed range and discrete columns one of their
categories, and every column keeps its dtype (an integer column that had holes becomes
`int64` again).
"""

import numpy as np
import pandas as pd

from gan_tf.tables import schema as schema_lib


class TableCodec:
    """Encodes a table of `schema` to codes and GAIN's matrix, and decodes fills.

    Example:
    ```python
    frame = read_table("patients.csv")
    codec = TableCodec(infer_schema(frame))
    values, mask = codec.to_matrix(frame)        # GAIN's matrix, NaN in the holes
    filled = codec.fill_frame(frame, codec.from_matrix(imputed))
    ```

    Args:
        schema: the table's `TableSchema`.
    """

    def __init__(self, schema):
        self.schema = schema
        self.columns = schema.columns
        self.widths = [len(c.categories) if c.discrete else 1 for c in self.columns]
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).astype(int)
        self.categorical = np.array([c.discrete for c in self.columns], bool)

    @property
    def num_features(self):
        """Columns of GAIN's matrix."""
        return int(self.offsets[-1])

    def observed(self, frame):
        """bool `(rows, columns)`: True where the table has a value."""
        self.schema.check_frame(frame)
        return ~np.isnan(self._raw_codes(frame))

    def _raw_codes(self, frame):
        """Numbers as they are, discrete values as category indices; NaN where missing."""
        codes = np.full((len(frame), len(self.columns)), np.nan)
        for index, column in enumerate(self.columns):
            series = frame.iloc[:, index]
            if column.discrete:
                lookup = {c: i for i, c in enumerate(column.categories)}
                strings = schema_lib.column_values_as_strings(series)
                codes[:, index] = [np.nan if s is None else lookup.get(s, np.nan)
                                   for s in strings]
            else:
                codes[:, index] = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
        return codes

    def _span(self, column):
        low = column.minimum if column.minimum is not None else 0.0
        high = column.maximum if column.maximum is not None else 1.0
        return low, (high - low) if high > low else 1.0

    def to_codes(self, frame):
        """float64 `(rows, columns)` in [0, 1], NaN where missing (see the module docstring)."""
        self.schema.check_frame(frame)
        codes = self._raw_codes(frame)
        for index, column in enumerate(self.columns):
            if column.discrete:
                codes[:, index] /= max(len(column.categories) - 1, 1)
            else:
                low, span = self._span(column)
                codes[:, index] = (codes[:, index] - low) / span
        return codes

    def from_codes(self, codes):
        """Per column, the decoded values of a code matrix: numbers, or category strings."""
        codes = np.asarray(codes, np.float64)
        decoded = []
        for index, column in enumerate(self.columns):
            if column.discrete:
                levels = len(column.categories) - 1
                position = np.clip(np.rint(codes[:, index] * max(levels, 1)), 0, levels)
                decoded.append([column.categories[int(p)] for p in position])
            else:
                low, span = self._span(column)
                decoded.append(codes[:, index] * span + low)
        return decoded

    def to_matrix(self, frame):
        """GAIN's `(values, mask)`: float32 `(rows, num_features)`, NaN where missing."""
        self.schema.check_frame(frame)
        codes = self._raw_codes(frame)
        values = np.full((len(frame), self.num_features), np.nan, np.float32)
        for index, column in enumerate(self.columns):
            start, width = self.offsets[index], self.widths[index]
            present = ~np.isnan(codes[:, index])
            if column.discrete:
                block = np.zeros((len(frame), width), np.float32)
                rows = np.flatnonzero(present)
                block[rows, codes[rows, index].astype(int)] = 1.0
                block[~present] = np.nan
                values[:, start:start + width] = block
            else:
                low, span = self._span(column)
                values[:, start] = (codes[:, index] - low) / span
        return values, (~np.isnan(values)).astype(np.float32)

    def from_matrix(self, matrix):
        """Per column, the decoded values of GAIN's matrix (argmax of each one-hot block)."""
        matrix = np.asarray(matrix, np.float64)
        decoded = []
        for index, column in enumerate(self.columns):
            start, width = self.offsets[index], self.widths[index]
            if column.discrete:
                choice = np.argmax(matrix[:, start:start + width], axis=1)
                decoded.append([column.categories[int(c)] for c in choice])
            else:
                low, span = self._span(column)
                decoded.append(matrix[:, start] * span + low)
        return decoded

    def fill_frame(self, frame, decoded):
        """A copy of `frame` with its holes set from `decoded` (`from_codes`/`from_matrix`).

        Observed entries are copied unchanged; each column keeps its original dtype (an
        integer or boolean column left with no hole gets its hole-free dtype back).
        """
        observed = self.observed(frame)
        result = {}
        for index, column in enumerate(self.columns):
            series = frame.iloc[:, index]
            present = observed[:, index]
            if present.all():
                result[column.name] = series.copy()
                continue
            if column.discrete:
                strings = schema_lib.column_values_as_strings(series)
                values = [s if p else d for s, p, d in zip(strings, present, decoded[index])]
                dtype = column.dtype
                if column.kind == "boolean" and column.categories == ("False", "True"):
                    dtype = "bool"
                elif dtype.startswith("float") and all(map(_is_whole, column.categories)):
                    dtype = "int64"  # whole-number categories read as floats beside holes
            else:
                numbers = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
                values = np.where(present, numbers, np.asarray(decoded[index], np.float64))
                dtype = "int64" if column.kind == "integer" else column.dtype
            filled = schema_lib.decode_column(
                values, schema_lib.Column(column.name, column.kind, column.categories,
                                          column.minimum, column.maximum,
                                          column.missing_rate, dtype))
            result[column.name] = filled.set_axis(frame.index)
        return pd.DataFrame(result, index=frame.index, columns=frame.columns)


def _is_whole(text):
    try:
        return float(text).is_integer()
    except ValueError:
        return False
