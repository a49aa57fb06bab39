"""Streamed table runs: a table larger than memory, read in chunks (`--stream_chunk_rows=N`).

A streamed run never holds the table. It reads the file twice, `N` rows at a time:

1. `scan_table`: counts the rows, holds each row out with probability `--holdout` (a seeded
   draw per row: not stratified), and gathers what the schema needs from every row (missing
   counts, numeric ranges, distinct values with their training counts) plus a seeded sample
   of at most `SAMPLE_ROWS` rows of each split (in file order). `streamed_schema` infers the column kinds on
   the sample and takes categories, ranges and missing rates from the whole file.
2. `write_row_cache`: transforms the training rows chunk by chunk into `data/rows.npy` (float32,
   `output_dim` numbers a row, on disk) and, per position of the conditional vector, the
   indices of the rows that have it (`data/option_rows.npy`).

The transformer is fitted on the training sample (`--transformer_rows` of it at most), as for
any table. Training then reads `rows.npy` through `tf.data` (`StreamedRows.dataset`): each
step's conditions and real rows are the same stateless draws of (seed, step) that
`TableGAN.train_step` makes for a table in memory (training-by-sampling over every training
row, exactly), gathered from the memory-mapped file; the operating system keeps the pages it
has room for. The run's `data/train.parquet` and `data/holdout.parquet` hold the two samples,
which pictures and `evaluate` use; `data/stream.json` records the counts.
"""

import dataclasses
import io
import json
import os

import numpy as np
import pandas as pd

from gan_tf.errors import UserError
from gan_tf.files import atomic_write_bytes, atomic_write_text
from gan_tf.tables import data as data_lib
from gan_tf.tables import schema as schema_lib

SAMPLE_ROWS = 10_000  # rows of each split kept in the run (schema kinds, pictures, evaluation)
ROWS_FILE = os.path.join(data_lib.DATA_DIR, "rows.npy")
INDEX_FILE = os.path.join(data_lib.DATA_DIR, "option_rows.npy")
STREAM_FILE = os.path.join(data_lib.DATA_DIR, "stream.json")
_TRACKED_VALUES = schema_lib.MAX_CATEGORIES + 1  # beyond this a column is no category


def read_chunks(path, chunk_rows, check=True):
    """The table at `path` as DataFrames of at most `chunk_rows` rows, in file order, with the
    same refusals as `schema.read_table` (a missing file, ragged rows, an encoding, names);
    `check=False` skips the line-by-line shape check of a CSV already read once."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"No table at {path!r}: the file does not exist. Check the path given "
                        "after 'csv:' (a .csv, .tsv or .parquet file).")
    extension = os.path.splitext(path)[1].lower()
    if extension in schema_lib.PARQUET_EXTENSIONS:
        yield from _parquet_chunks(path, chunk_rows)
        return
    if extension not in schema_lib.CSV_EXTENSIONS:
        known = schema_lib.CSV_EXTENSIONS + schema_lib.PARQUET_EXTENSIONS
        raise UserError(f"Cannot read {path!r} as a table: the extension {extension!r} is not "
                        f"one of {', '.join(known)}. Save it as CSV (comma-separated, a header "
                        "row) or Parquet.")
    delimiter = "\t" if extension == ".tsv" else ","
    if check:
        schema_lib._check_csv_shape(path, "utf-8", delimiter)  # one pass, a line at a time
    reader = pd.read_csv(path, sep=delimiter, encoding="utf-8-sig", skipinitialspace=True,
                         chunksize=chunk_rows, low_memory=False)
    seen = False
    with reader:
        for chunk in reader:
            if len(chunk):
                seen = True
                yield chunk
    if not seen:
        raise UserError(f"The table {path!r} has a header but no rows. Give a table with at "
                        f"least {schema_lib.MIN_ROWS} rows.")


def _parquet_chunks(path, chunk_rows):
    with schema_lib.parquet_errors(path):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()


def held_out(seed, chunk_index, num_rows, holdout):
    """Which rows of chunk `chunk_index` are held out: a seeded draw per row."""
    return np.random.default_rng([seed, 7, chunk_index]).random(num_rows) < holdout


@dataclasses.dataclass
class Scan:
    """What `scan_table` found in the whole file."""

    num_rows: int
    train_rows: int
    holdout_rows: int
    train_sample: object  # DataFrame, at most SAMPLE_ROWS training rows (seeded)
    holdout_sample: object  # DataFrame, at most SAMPLE_ROWS held-out rows (seeded)
    missing: dict  # column -> rows with the value missing
    train_missing: dict  # column -> training rows with the value missing
    minimum: dict  # column -> smallest number (None without numbers)
    maximum: dict
    values: dict  # column -> {category string: rows}, None past MAX_CATEGORIES values
    train_values: dict  # column -> {category string: training rows}, None likewise


def _present(series):
    present = series.notna().to_numpy()
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        present &= (series.astype(str).str.strip() != "").to_numpy()
    return present


def _count_values(counts, series):
    """Adds the category strings of `series` (present values) to `counts`; None past the cap."""
    if counts is None:
        return None
    for value, count in series.value_counts(sort=False).items():
        key = schema_lib.category_string(value)
        counts[key] = counts.get(key, 0) + int(count)
    return counts if len(counts) <= _TRACKED_VALUES else None


def _keep_smallest(kept, frame, keys, positions, limit):
    """The `limit` rows of `kept` and `frame` with the smallest keys (a seeded sample)."""
    frame = frame.assign(__gan_tf_key=keys, __gan_tf_position=positions)
    merged = frame if kept is None else pd.concat([kept, frame], ignore_index=True)
    if len(merged) > limit:
        merged = merged.nsmallest(limit, "__gan_tf_key", keep="first")
    return merged


def scan_table(path, chunk_rows, holdout, seed, sample_rows=SAMPLE_ROWS):
    """Reads the table once, `chunk_rows` rows at a time: the `Scan` a streamed run needs."""
    names = None
    counts = dict(rows=0, train=0, holdout=0)
    missing, train_missing, minimum, maximum, values, train_values = {}, {}, {}, {}, {}, {}
    kept = {True: None, False: None}
    for index, chunk in enumerate(read_chunks(path, chunk_rows)):
        if names is None:
            names = [str(name) for name in chunk.columns]
            schema_lib._check_names(names, path)
            for name in names:
                missing[name] = train_missing[name] = 0
                minimum[name] = maximum[name] = None
                values[name], train_values[name] = {}, {}
        chunk.columns = names
        held = held_out(seed, index, len(chunk), holdout)
        counts["rows"] += len(chunk)
        counts["holdout"] += int(held.sum())
        counts["train"] += int((~held).sum())
        for name in names:
            series = chunk[name]
            present = _present(series)
            missing[name] += int((~present).sum())
            train_missing[name] += int((~present & ~held).sum())
            numbers = pd.to_numeric(series[present], errors="coerce").dropna()
            if len(numbers) and not pd.api.types.is_bool_dtype(series.dtype):
                low, high = float(numbers.min()), float(numbers.max())
                minimum[name] = low if minimum[name] is None else min(minimum[name], low)
                maximum[name] = high if maximum[name] is None else max(maximum[name], high)
            values[name] = _count_values(values[name], series[present])
            train_values[name] = _count_values(train_values[name], series[present & ~held])
        keys = np.random.default_rng([seed, 8, index]).random(len(chunk))
        positions = np.arange(counts["rows"] - len(chunk), counts["rows"])
        for side in (True, False):
            kept[side] = _keep_smallest(kept[side], chunk[held == side], keys[held == side],
                                        positions[held == side], sample_rows)
    if counts["train"] == 0 or (holdout > 0 and counts["holdout"] == 0):
        raise UserError(f"Holding out {holdout} of {counts['rows']} rows leaves nothing to "
                        f"{'train on' if counts['train'] == 0 else 'hold out'}. Give a larger "
                        "table or another --holdout.")
    samples = [kept[side].sort_values("__gan_tf_position")
               .drop(columns=["__gan_tf_key", "__gan_tf_position"]).reset_index(drop=True)
               for side in (False, True)]  # in file order
    return Scan(counts["rows"], counts["train"], counts["holdout"], samples[0], samples[1],
                missing, train_missing, minimum, maximum, values, train_values)


def streamed_schema(scan, target=None, kinds=None):
    """The table's schema: kinds inferred on the samples (with `kinds` overrides), categories,
    ranges and missing rates from every row of the file."""
    sample = pd.concat([scan.train_sample, scan.holdout_sample], ignore_index=True)
    inferred = schema_lib.infer_schema(sample, target=target, kinds=kinds)
    columns = []
    for column in inferred.columns:
        name = column.name
        # As infer_schema computes it, so a table read whole or in chunks has one schema.
        missing_rate = 1.0 - (scan.num_rows - scan.missing[name]) / scan.num_rows
        if column.kind in schema_lib.NUMERIC_KINDS:
            columns.append(dataclasses.replace(
                column, minimum=scan.minimum[name], maximum=scan.maximum[name],
                missing_rate=missing_rate,
                dtype="float64" if column.dtype == "int64" and missing_rate else column.dtype))
            continue
        if name == target and missing_rate:
            raise UserError(f"The target column {name!r} is missing in {scan.missing[name]} of "
                            f"{scan.num_rows} rows. Drop those rows (a label is needed for "
                            "every row a model learns from), or choose another --target.")
        found = scan.values[name]
        limit = min(schema_lib.MAX_CATEGORIES,
                    max(2, scan.num_rows // schema_lib.MIN_ROWS_PER_CATEGORY))
        if found is None or len(found) > limit:
            raise UserError(
                f"Column {name!r} has more than {limit} distinct values in {scan.num_rows} rows:"
                " too many for a categorical column. Drop it, group rare values into 'other', "
                f"or give it as a number with --column_kinds={name}=continuous if it is one.")
        categories = schema_lib._category_order(found)
        if column.categories == ("False", "True") and set(found) <= {"False", "True"}:
            categories = ("False", "True")
        columns.append(dataclasses.replace(
            column, categories=categories, missing_rate=missing_rate,
            dtype="float64" if column.dtype == "int64" and missing_rate else column.dtype))
    return schema_lib.TableSchema(columns=tuple(columns), target=target)


def condition_counts(scan, transformer):
    """Training rows per position of the conditional vector, from the whole file."""
    counts = []
    for span in transformer.condition_spans:
        column = transformer.schema.column(span.column)
        found = scan.train_values[span.column] or {}
        counts += [int(found.get(category, 0)) for category in column.categories]
        counts += [int(scan.train_missing[span.column])] * (span.width - len(column.categories))
    return counts


def _chunk_seed(seed, index):
    """The seed of chunk `index`'s transform: the run's seed for the first chunk, so a table
    read in one chunk is transformed exactly as a table held in memory."""
    return int(seed) if index == 0 else int(seed) * 1_000_003 + int(index)


def write_row_cache(run_dir, path, chunk_rows, holdout, seed, transformer, scan):
    """Pass 2: the transformed training rows in `data/rows.npy` and, per position of the
    conditional vector, their indices in `data/option_rows.npy` (each written to a temporary
    file and renamed, so a killed run leaves no half-made cache that a rerun would trust)."""
    rows_path = os.path.join(run_dir, ROWS_FILE)
    os.makedirs(os.path.dirname(rows_path), exist_ok=True)
    temp_path = os.path.join(os.path.dirname(rows_path), f".rows.{os.getpid():08d}.tmp")
    rows = np.lib.format.open_memmap(temp_path, mode="w+", dtype=np.float32,
                                     shape=(scan.train_rows, transformer.output_dim))
    options = [[] for _ in range(transformer.condition_dim)]
    offset = 0
    try:
        for index, chunk in enumerate(read_chunks(path, chunk_rows, check=False)):
            chunk.columns = [str(name) for name in chunk.columns]
            train = chunk[~held_out(seed, index, len(chunk), holdout)]
            part = transformer.transform(train.reset_index(drop=True),
                                         seed=_chunk_seed(seed, index))
            rows[offset:offset + len(part)] = part
            position = 0
            for span in transformer.condition_spans:
                for k in range(span.width):
                    options[position].append(
                        np.flatnonzero(part[:, span.start + k] > 0.5).astype(np.int64) + offset)
                    position += 1
            offset += len(part)
        if offset != scan.train_rows:
            raise UserError(f"The table {path} changed while it was read ({offset} training "
                            f"rows now, {scan.train_rows} before). Train again once it is "
                            "written.")
        rows.flush()
        del rows
        os.replace(temp_path, rows_path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise
    flat = [np.concatenate(parts) if parts else np.zeros(0, np.int64) for parts in options]
    counts = [len(part) for part in flat]
    buffer = io.BytesIO()
    np.save(buffer, np.concatenate(flat) if flat else np.zeros(0, np.int64))
    atomic_write_bytes(os.path.join(run_dir, INDEX_FILE), buffer.getvalue())
    return counts


def write_stream_record(run_dir, record):
    atomic_write_text(os.path.join(run_dir, STREAM_FILE), json.dumps(record, indent=2) + "\n")


def read_stream_record(run_dir):
    """`data/stream.json` of a streamed run, or None for a run that read its table whole."""
    return data_lib.read_json(run_dir, STREAM_FILE, required=False)


def has_row_cache(run_dir):
    return all(os.path.isfile(os.path.join(run_dir, name)) for name in (ROWS_FILE, INDEX_FILE))


class StreamedRows:
    """A streamed run's training rows on disk, and the `tf.data` pipeline `fit` reads.

    Args:
        run_dir: the run directory holding `data/rows.npy` and `data/option_rows.npy`.
        condition_counts: training rows per position of the conditional vector.
    """

    def __init__(self, run_dir, condition_counts):
        try:
            self.rows = np.load(os.path.join(run_dir, ROWS_FILE), mmap_mode="r")
            self.option_rows = np.load(os.path.join(run_dir, INDEX_FILE), mmap_mode="r")
        except (OSError, ValueError) as error:
            raise UserError(f"Cannot read the streamed rows of {run_dir} ({error}). Train the "
                            "run again (another --output_dir) to rewrite them.") from None
        self.counts = np.asarray(condition_counts, np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        if len(self.option_rows) != int(self.counts.sum()):
            raise UserError(f"The streamed rows of {run_dir} do not match its schema "
                            f"({len(self.option_rows)} indexed rows, {int(self.counts.sum())} "
                            "expected). Train the run again (another --output_dir).")
        self.num_rows = len(self.rows)

    def _gather(self, positions):
        """The rows at `positions` of the per-option index (or the rows themselves for a table
        without discrete columns), read from the file in ascending order."""
        index = positions if not len(self.counts) else np.asarray(self.option_rows[positions],
                                                                  np.int64)
        order = np.argsort(index, kind="stable")
        rows = np.empty((len(index), self.rows.shape[1]), np.float32)
        rows[order] = self.rows[index[order]]
        return rows

    def dataset(self, gan, batch_size, first_step, num_steps):
        """`num_steps` global batches `{"conditions", "rows"}` for optimizer steps
        `first_step, first_step + 1, ...`: `TableGAN.sampled_positions`' draws of (seed,
        step), as in memory, with the rows gathered from the file."""
        import tensorflow as tf

        width = self.rows.shape[1]
        counts, starts = tf.constant(self.counts), tf.constant(self.starts)

        # Traced here, outside any strategy's scope: one replica, so the draws are the
        # global batch's, which a strategy then splits across its replicas.
        def batch(step):
            options, positions = gan.sampled_positions(counts, starts, self.num_rows,
                                                       batch_size, step)
            rows = tf.numpy_function(self._gather, [positions], tf.float32, stateful=False)
            return {"conditions": gan._conditions(options, batch_size),
                    "rows": tf.ensure_shape(rows, [batch_size, width])}

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        options.deterministic = True
        return (tf.data.Dataset.range(first_step, first_step + num_steps)
                .map(batch, num_parallel_calls=2, deterministic=True)
                .prefetch(2).with_options(options))
