"""The schema of a table: column names, kinds, categories, ranges, missing rates; reading it.

`read_table` reads a CSV or Parquet file into a pandas DataFrame, refusing files a GAN cannot
learn from (ragged rows, an encoding that is not UTF-8) with one `UserError` that names the
fix. `infer_schema` infers each column's kind (`KINDS`), takes overrides, and refuses bad
columns (empty, constant, ID-like, a categorical with more distinct values than the rows
allow, a target with one class). The `TableSchema` travels with a run (`schema.json`) and
says how to turn the transformer's values back into the original, typed columns
(`decode_column`). pandas and numpy only: no TensorFlow.
"""

import contextlib
import csv
import dataclasses
import math
import os
import re
from typing import Optional

import numpy as np
import pandas as pd

from gan_tf.errors import UserError, invalid

KINDS = ("continuous", "integer", "categorical", "boolean")
DISCRETE_KINDS = ("categorical", "boolean")  # one-hot in the transformer; conditionable
NUMERIC_KINDS = ("continuous", "integer")
CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
PARQUET_EXTENSIONS = (".parquet", ".pq")
MIN_ROWS = 10  # fewer rows than this leave nothing to learn and nothing to hold out
MIN_ROWS_PER_CATEGORY = 5  # a categorical column may have at most rows / 5 distinct values
MAX_CATEGORIES = 1000  # one-hot width beyond which a column is a text or an ID, not a category
MAX_TARGET_CLASSES = 20  # an integer target with at most this many values is a class label
# A numeric column (not the target) with fewer distinct values than this is a code, not a
# measurement: `categorical`, so generated rows take only its values (fair's age is 17.5, 22,
# 27, 32, 37 or 42). With the kinds as numbers, a detector told fair's generated rows from
# real ones with AUC 1.000; as categories, 0.882 (30 epochs, docs/tables.md).
FEW_VALUES = 10
ID_MIN_ROWS = 20  # below this, all-distinct values are no evidence of an ID
_ID_NAME = re.compile(r"(^|[^a-z0-9])(id|uuid|guid|key|index)$|^(id|uuid|guid)[^a-z]",
                      re.IGNORECASE)
_TRUE_STRINGS = ("true", "yes")
_FALSE_STRINGS = ("false", "no")
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a table.

    Args:
        name: the column's name, as in the file.
        kind: one of `KINDS`.
        categories: categorical and boolean columns: every observed value as a string
            (`category_string`), in a fixed order (numbers by value, other strings sorted;
            booleans `("False", "True")`). Empty for numeric kinds.
        minimum, maximum: numeric kinds: the smallest and largest observed value (None for
            discrete kinds).
        missing_rate: the fraction of rows where the value is missing (NaN, empty).
        dtype: the pandas dtype the column was read with (`"int64"`, `"float64"`, `"bool"`,
            `"object"`), so decoded columns come back with the original dtype. An integer
            column with missing values reads as `"float64"` (whole numbers and NaN).
    """

    name: str
    kind: str
    categories: tuple = ()
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    missing_rate: float = 0.0
    dtype: str = "object"

    @property
    def discrete(self):
        """True for categorical and boolean columns (one-hot, usable as a condition)."""
        return self.kind in DISCRETE_KINDS

    def to_json(self):
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories),
                "minimum": self.minimum, "maximum": self.maximum,
                "missing_rate": self.missing_rate, "dtype": self.dtype}

    @classmethod
    def from_json(cls, data):
        return cls(name=str(data["name"]), kind=str(data["kind"]),
                   categories=tuple(str(c) for c in data.get("categories", ())),
                   minimum=_optional_float(data.get("minimum")),
                   maximum=_optional_float(data.get("maximum")),
                   missing_rate=float(data.get("missing_rate", 0.0)),
                   dtype=str(data.get("dtype", "object")))


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """The columns of a table, in order, and the target column (if any).

    Example:

    ```python
    frame = read_table("patients.csv")
    schema = infer_schema(frame, target="outcome", kinds={"visits": "integer"})
    schema.column("outcome").categories   # ('no', 'yes')
    TableSchema.from_json(schema.to_json()) == schema   # True
    ```

    Args:
        columns: a tuple of `Column`, in the table's order.
        target: the name of the label column the run is conditioned on and downstream models
            predict, or None.
    """

    columns: tuple
    target: Optional[str] = None

    @property
    def names(self):
        """The column names, in order."""
        return tuple(column.name for column in self.columns)

    @property
    def discrete_columns(self):
        """The categorical and boolean columns, in order (the conditional vector's columns)."""
        return tuple(column for column in self.columns if column.discrete)

    def column(self, name):
        """The `Column` named `name`; a `UserError` listing the names if there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise UserError(f"The table has no column {name!r}. Its columns are: "
                        f"{', '.join(self.names)}.")

    def to_json(self):
        return {"version": SCHEMA_VERSION, "target": self.target,
                "columns": [column.to_json() for column in self.columns]}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise UserError(f"Invalid table schema: expected a JSON object with a 'columns' "
                            f"list, received {type(data).__name__}. Was schema.json edited or "
                            "truncated? Train the run again to rewrite it.")
        return cls(columns=tuple(Column.from_json(c) for c in data["columns"]),
                   target=data.get("target"))

    def check_frame(self, frame, what="the table"):
        """Raises `UserError` unless `frame` has this schema's columns, in order.

        What a resumed or evaluated run checks: a table whose columns were added, dropped or
        renamed since the run started cannot continue it.
        """
        received = tuple(str(name) for name in frame.columns)
        if received != self.names:
            missing = [n for n in self.names if n not in received]
            extra = [n for n in received if n not in self.names]
            detail = "; ".join(part for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"new {', '.join(extra)}" if extra else "",
                "" if missing or extra else "the same columns in another order") if part)
            raise UserError(f"{what} does not have the run's columns ({detail}). Expected the "
                            f"columns {', '.join(self.names)}. Use the table the run was "
                            "trained on, or start a new run with another --output_dir.")


def _optional_float(value):
    return None if value is None else float(value)


# ---------------------------------------------------------------------------------------------
# Values as strings and back.

def category_string(value):
    """The string a discrete value is stored as: `1` and `1.0` -> '1', `True` -> 'True'."""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def _category_order(strings):
    """Numbers by value, then other strings sorted: a fixed order for any set of values."""
    def key(text):
        try:
            return (0, float(text), text)
        except ValueError:
            return (1, 0.0, text)
    return tuple(sorted(set(strings), key=key))


def decode_column(values, column):
    """A pandas Series of `column`'s original dtype from decoded values (None/NaN = missing).

    `values`: numbers for numeric kinds (integers are rounded and clipped to the observed
    range), category strings (`Column.categories`) for discrete kinds. This is the one place
    that turns a column back into what was read, for sampling, the export's callers and the
    held-out rows alike.
    """
    series = pd.Series(values, name=column.name)
    missing = series.isna().to_numpy()
    if column.kind in NUMERIC_KINDS:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        if column.kind == "integer":
            numbers = np.round(numbers)
        if column.minimum is not None and column.kind == "integer":
            numbers = np.clip(numbers, column.minimum, column.maximum)
        return _as_dtype(pd.Series(numbers, name=column.name), column.dtype, missing)
    strings = [None if m else str(t) for t, m in zip(series.astype(object), missing)]
    if column.dtype.startswith(("int", "float", "uint")):
        numbers = pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce")
        return _as_dtype(pd.Series(numbers.to_numpy(dtype=np.float64), name=column.name),
                         column.dtype, missing)
    if column.kind == "boolean" and column.categories == ("False", "True"):
        values = [None if t is None else t == "True" for t in strings]
        if column.dtype == "bool" and not missing.any():
            return pd.Series(values, name=column.name, dtype=bool)
        return pd.Series(values, name=column.name, dtype=object).where(~missing, np.nan)
    return pd.Series(strings, name=column.name, dtype=object).where(~missing, np.nan)


def _as_dtype(series, dtype, missing):
    if dtype.startswith(("int", "uint")) and not missing.any():
        return series.astype(dtype)
    if dtype.startswith(("int", "uint")):
        return series.astype("float64")  # whole numbers and NaN, as pandas reads them
    return series.astype(dtype if dtype.startswith("float") else "float64")


# ---------------------------------------------------------------------------------------------
# Reading a table.

def read_table(path, encoding="utf-8"):
    """Reads a CSV (comma, or tab for .tsv) or Parquet file into a pandas DataFrame.

    Refuses, with one `UserError` naming the fix: a missing file, an unknown extension, an
    empty file, text that is not in `encoding`, rows with more or fewer fields than the header
    (the line is named), and duplicate or empty column names. Empty fields and the usual
    spellings of "missing" (`NA`, `NaN`, `null`, ...) read as missing values, which a table may
    have.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"No table at {path!r}: the file does not exist. Check the path given "
                        "after 'csv:' (a .csv, .tsv or .parquet file).")
    extension = os.path.splitext(path)[1].lower()
    if extension in PARQUET_EXTENSIONS:
        frame = _read_parquet(path)
    elif extension in CSV_EXTENSIONS:
        frame = _read_csv(path, encoding, "\t" if extension == ".tsv" else ",")
    else:
        raise UserError(f"Cannot read {path!r} as a table: the extension {extension!r} is not "
                        f"one of {', '.join(CSV_EXTENSIONS + PARQUET_EXTENSIONS)}. Save it as "
                        "CSV (comma-separated, a header row) or Parquet.")
    _check_names(frame.columns, path)
    if len(frame) == 0:
        raise UserError(f"The table {path!r} has a header but no rows. Give a table with at "
                        f"least {MIN_ROWS} rows.")
    return frame


@contextlib.contextmanager
def parquet_errors(path):
    """Inside it, a missing pyarrow or an unreadable Parquet file is one UserError."""
    try:
        yield
    except ImportError as error:
        raise UserError(f"Reading Parquet ({path!r}) needs pyarrow: pip install pyarrow, or "
                        f"save the table as CSV. ({error})") from None
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise UserError(f"Cannot read {path!r} as Parquet: {str(error).splitlines()[0]}. Is "
                        "it a Parquet file? Save it again, or as CSV.") from None


def _read_parquet(path):
    with parquet_errors(path):
        return pd.read_parquet(path)


def _read_csv(path, encoding, delimiter):
    _check_csv_shape(path, encoding, delimiter)
    try:
        return pd.read_csv(path, sep=delimiter, encoding=_python_encoding(encoding),
                           skipinitialspace=True, low_memory=False)
    except UnicodeDecodeError as error:
        raise _encoding_error(path, encoding, error) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise UserError(f"Cannot read {path!r} as CSV: {str(error).strip()}. Fix the file (one "
                        "header row, then one row per record, the same number of fields in "
                        "each).") from None


def _python_encoding(encoding):
    # A UTF-8 byte-order mark (Excel writes one) is not part of the first column's name.
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _encoding_error(path, encoding, error):
    return UserError(
        f"Cannot read {path!r}: byte {error.start} is not valid {encoding} text ({error.reason})."
        f" Save the table as UTF-8 (in a spreadsheet: 'CSV UTF-8'; on the command line: "
        f"iconv -f latin1 -t utf-8 {os.path.basename(path)} > fixed.csv).")


def _check_csv_shape(path, encoding, delimiter):
    """Every non-blank row has as many fields as the header: pandas fills short rows silently."""
    try:
        with open(path, newline="", encoding=_python_encoding(encoding)) as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            header = None
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line, which pandas skips too
                if header is None:
                    header = row
                    continue
                if len(row) != len(header):
                    raise UserError(
                        f"The table {path!r} has ragged rows: line {reader.line_num} has "
                        f"{len(row)} fields where the header has {len(header)}. Fix that line "
                        f"(a missing or extra {delimiter!r}, or a field with a {delimiter!r} "
                        "that is not in double quotes) and read it again.")
    except UnicodeDecodeError as error:
        raise _encoding_error(path, encoding, error) from None
    except csv.Error as error:
        raise UserError(f"Cannot read {path!r} as CSV: {error}. Fix the file's quoting, or "
                        "save it again as CSV.") from None
    if header is None:
        raise UserError(f"The table {path!r} is empty. Give a CSV file with a header row and "
                        f"at least {MIN_ROWS} rows.")
    _check_names(header, path)


def _check_names(names, path):
    what = "The table" if path is None else f"The table {path!r}"
    names = [str(name) for name in names]
    empty = [i + 1 for i, name in enumerate(names) if not name.strip()]
    if empty:
        raise UserError(f"{what} has a column with no name (column "
                        f"{empty[0]} of the header). Give every column a name in the header "
                        "row, or drop the column (an index written by pandas' to_csv: save with "
                        "index=False).")
    seen = set()
    for name in names:
        if name in seen:
            raise UserError(f"{what} has two columns named {name!r}. Rename one "
                            "so every column name is different.")
        seen.add(name)


# ---------------------------------------------------------------------------------------------
# Inferring the schema.

def infer_schema(frame, target=None, kinds=None):
    """The `TableSchema` of `frame`: each column's kind, categories, range and missing rate.

    Kinds, unless `kinds` says otherwise: a bool column (or text that is only true/false,
    yes/no) is `boolean`; numbers with fewer than `FEW_VALUES` distinct values (codes, not
    measurements; the target excepted) are `categorical` and keep their dtype; other numbers
    that are all whole are `integer`, the rest `continuous`; anything else is `categorical`.
    An integer target with at most `MAX_TARGET_CLASSES` values is `categorical` (a class
    label). Missing values are data:
    their rate is recorded and learned.

    Refused, with one `UserError` naming the column and the fix: fewer than `MIN_ROWS` rows;
    an empty column (every value missing); a constant column (one value, none missing); an
    ID-like column (every value different and text, consecutive whole numbers, or a name like
    `id`), unless `kinds` names its kind; a categorical column with more than
    `rows / MIN_ROWS_PER_CATEGORY` (or `MAX_CATEGORIES`) distinct values; a discrete target
    with one class or a target with missing values; `kinds` naming an unknown column or kind,
    or a kind the values cannot have (text as `integer`).

    Args:
        frame: a pandas DataFrame (e.g. from `read_table`).
        target: the label column's name, or None.
        kinds: `{column: kind}` overrides, each kind one of `KINDS`.
    """
    if not isinstance(frame, pd.DataFrame):
        raise invalid("frame", type(frame).__name__, "a pandas DataFrame")
    kinds = dict(kinds or {})
    names = [str(name) for name in frame.columns]
    if not names:
        raise UserError("The table has no columns. Give a table with a header row and at "
                        "least one column.")
    _check_names(names, None)
    for name, kind in kinds.items():
        if name not in names:
            raise invalid("column_kinds", f"{name}={kind}",
                          f"a column of the table ({', '.join(names)})")
        if kind not in KINDS:
            raise invalid("column_kinds", f"{name}={kind}",
                          "each kind one of " + ", ".join(KINDS))
    if target is not None and target not in names:
        raise invalid("target", target, f"a column of the table ({', '.join(names)})")
    if len(frame) < MIN_ROWS:
        raise UserError(f"The table has {len(frame)} rows; a GAN needs at least {MIN_ROWS} to "
                        "learn from and to hold some out. Give a larger table.")
    columns = tuple(_infer_column(frame[frame.columns[i]], name, kinds.get(name),
                                  is_target=name == target, num_rows=len(frame))
                    for i, name in enumerate(names))
    return TableSchema(columns=columns, target=target)


def _infer_column(series, name, kind, is_target, num_rows):
    present = series.dropna()
    if isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
        present = present[present.astype(str).str.strip() != ""]
    missing_rate = 1.0 - len(present) / num_rows
    dtype = _dtype_name(series)
    if len(present) == 0:
        raise UserError(f"Column {name!r} is empty: every value is missing. Drop the column "
                        "(it carries nothing to learn).")
    distinct = present.astype(str).nunique() if series.dtype == object else present.nunique()
    if distinct == 1 and missing_rate == 0.0:
        raise UserError(f"Column {name!r} is constant: every row is {present.iloc[0]!r}. Drop "
                        "the column (it carries nothing to learn) and add it back to the "
                        "generated rows if you need it.")
    if is_target and missing_rate > 0:
        count = int(round(missing_rate * num_rows))
        raise UserError(f"The target column {name!r} is missing in {count} of {num_rows} rows. "
                        "Drop those rows (a label is needed for every row a model learns from), "
                        "or choose another --target.")
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype)
    if kind is None:
        kind = _guess_kind(series, present, numeric, is_target, distinct)
        if _looks_like_id(name, present, numeric, kind, distinct, num_rows):
            raise UserError(
                f"Column {name!r} looks like an ID ({_id_reason(name, present, numeric)}): it "
                "names rows rather than describing them, and a GAN would learn nothing from it "
                "or copy it. Drop the column, or keep it with "
                f"--column_kinds={name}=categorical (or integer/continuous) if it is data.")
    _check_kind(name, kind, present, numeric, distinct)
    if kind in NUMERIC_KINDS:
        values = present.to_numpy(dtype=np.float64)
        return Column(name=name, kind=kind, minimum=float(values.min()),
                      maximum=float(values.max()), missing_rate=missing_rate, dtype=dtype)
    strings = [category_string(value) for value in present]
    categories = _category_order(strings)
    if kind == "boolean" and pd.api.types.is_bool_dtype(series.dtype):
        categories = ("False", "True")
    limit = min(MAX_CATEGORIES, max(2, num_rows // MIN_ROWS_PER_CATEGORY))
    if len(categories) > limit:
        raise UserError(
            f"Column {name!r} has {len(categories)} distinct values in {num_rows} rows: too many "
            f"for a categorical column (at most {limit}, about {MIN_ROWS_PER_CATEGORY} rows per "
            "value). Drop it, group rare values into 'other', or give it as a number with "
            f"--column_kinds={name}=continuous if it is one.")
    if is_target and len(categories) < 2:
        raise UserError(f"The target column {name!r} has one class ({categories[0]!r}): "
                        "nothing to predict or condition on. Choose another --target, or leave "
                        "--target out.")
    return Column(name=name, kind=kind, categories=categories, missing_rate=missing_rate,
                  dtype=dtype)


def _dtype_name(series):
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int64"
    if pd.api.types.is_float_dtype(series.dtype):
        return "float64"
    return "object"


def _is_boolean_text(present):
    lowered = set(present.astype(str).str.strip().str.lower())
    return len(lowered) <= 2 and any(
        lowered <= {true, false} for true, false in zip(_TRUE_STRINGS, _FALSE_STRINGS))


def _guess_kind(series, present, numeric, is_target, distinct):
    if pd.api.types.is_bool_dtype(series.dtype) or (
            series.dtype == object and present.map(lambda v: isinstance(v, bool)).all()):
        return "boolean"
    if numeric:
        values = present.to_numpy(dtype=np.float64)
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if is_target and whole and distinct <= MAX_TARGET_CLASSES:
            return "categorical"
        if not is_target and distinct < FEW_VALUES and (
                distinct * MIN_ROWS_PER_CATEGORY <= len(series)):
            return "categorical"
        return "integer" if whole else "continuous"
    if _is_boolean_text(present):
        return "boolean"
    return "categorical"


def _looks_like_id(name, present, numeric, kind, distinct, num_rows):
    if kind in ("boolean",) or len(present) < ID_MIN_ROWS or distinct < len(present):
        return False
    if _ID_NAME.search(name):
        return True
    if kind == "categorical":
        return True  # every value a different piece of text
    if kind == "integer":
        values = present.to_numpy(dtype=np.float64)
        return float(values.max() - values.min()) == len(present) - 1  # 0..n-1, 1..n
    return False


def _id_reason(name, present, numeric):
    if _ID_NAME.search(name):
        return "its name, and a different value in every row"
    if numeric:
        return "consecutive whole numbers, a different one in every row"
    return "a different value in every row"


def _check_kind(name, kind, present, numeric, distinct):
    if kind in NUMERIC_KINDS and not numeric:
        numbers = pd.to_numeric(present, errors="coerce")
        bad = present[numbers.isna()]
        example = bad.iloc[0] if len(bad) else present.iloc[0]
        raise invalid("column_kinds", f"{name}={kind}",
                      f"a kind its values can have: {name!r} holds text such as {example!r}; "
                      f"use {name}=categorical")
    if kind == "integer":
        values = present.to_numpy(dtype=np.float64)
        if not np.all(values == np.round(values)):
            raise invalid("column_kinds", f"{name}={kind}",
                          f"a kind its values can have: {name!r} holds fractions such as "
                          f"{values[values != np.round(values)][0]!r}; use {name}=continuous")
    if kind == "boolean" and distinct > 2:
        raise invalid("column_kinds", f"{name}={kind}",
                      f"a kind its values can have: {name!r} has {distinct} distinct values; "
                      f"use {name}=categorical")


def parse_column_kinds(text):
    """`'a=integer,b=categorical'` -> `{'a': 'integer', 'b': 'categorical'}` (the flag's form)."""
    kinds = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, equals, kind = part.rpartition("=")
        if not equals or not name.strip() or kind.strip() not in KINDS:
            raise invalid("column_kinds", text, "COLUMN=KIND pairs separated by commas, each "
                          "KIND one of " + ", ".join(KINDS) + ", e.g. 'age=integer,zip=categorical'")
        kinds[name.strip()] = kind.strip()
    return kinds


def column_values_as_strings(series):
    """A discrete column's values as category strings (None where missing)."""
    return [None if _is_missing(value) else category_string(value) for value in series]


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return bool(pd.isna(value)) if not isinstance(value, (list, tuple)) else False
