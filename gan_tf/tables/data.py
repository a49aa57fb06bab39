"""A table run's data: the split into training and held-out rows, and the run's own files.

A table run directory holds, beside `gan_tf.runs`' layout (config.json, checkpoints/,
samples/, metrics.jsonl, generator/):

    schema.json        the table's schema (`schema.TableSchema.to_json`)
    transformer.json   the fitted transformer (`transformer.TableTransformer.to_json`)
    data/train.parquet    the real rows the GAN trained on
    data/holdout.parquet  the real rows held out (never trained on), for evaluation

The splits are stored as Parquet so `read_run_splits` gives the original columns and dtypes
whatever happens to the source file later. pandas/pyarrow only: no TensorFlow.
"""

import io
import json
import os

import numpy as np
import pandas as pd

from gan_tf.errors import UserError
from gan_tf.files import atomic_write_bytes, atomic_write_text
from gan_tf.tables import schema as schema_lib

SCHEMA_FILE = "schema.json"
TRANSFORMER_FILE = "transformer.json"
DATA_DIR = "data"
TRAIN_FILE = os.path.join(DATA_DIR, "train.parquet")
HOLDOUT_FILE = os.path.join(DATA_DIR, "holdout.parquet")


def is_table_run(run_dir):
    """True when `run_dir` is a table run (it holds schema.json)."""
    return os.path.isfile(os.path.join(run_dir, SCHEMA_FILE))


def split_rows(frame, holdout, seed, target=None, discrete_target=False):
    """`(train_frame, holdout_frame)`: a seeded split holding out `holdout` of the rows.

    With a categorical target the split is stratified: each class keeps its share in both
    parts (a class with one row stays in training). Row order within each part follows the
    table's; the index is reset.
    """
    rng = np.random.default_rng([seed, 7])
    if holdout <= 0:
        return frame.reset_index(drop=True), frame.iloc[:0].reset_index(drop=True)
    held = np.zeros(len(frame), bool)
    if target is not None and discrete_target:
        groups = [np.flatnonzero(mask) for mask in _group_masks(frame[target])]
    else:
        groups = [np.arange(len(frame))]
    for members in groups:
        count = int(round(holdout * len(members)))
        count = min(count, len(members) - 1)
        if count > 0:
            held[rng.choice(members, count, replace=False)] = True
    if held.all() or not held.any():
        raise UserError(f"Holding out {holdout} of {len(frame)} rows leaves nothing to "
                        f"{'train on' if held.all() else 'hold out'}. Give a larger table or "
                        "another --holdout.")
    return (frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True))


def _group_masks(series):
    strings = pd.Series(schema_lib.column_values_as_strings(series), dtype=object)
    for value in sorted(strings.dropna().unique()):
        yield (strings == value).to_numpy()


# What a table run writes before its config.json: a folder holding only these (and the lock)
# is the start of a run killed before config.json, which the next start writes anew.
SETUP_NAMES = frozenset({SCHEMA_FILE, TRANSFORMER_FILE, DATA_DIR})


def write_run_files(run_dir, schema, transformer, train, holdout):
    """Writes the two splits, transformer.json and schema.json (atomically, each; the run's
    config.json, written after them, is what makes them a run's)."""
    for frame, name in ((train, TRAIN_FILE), (holdout, HOLDOUT_FILE)):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        atomic_write_bytes(os.path.join(run_dir, name), buffer.getvalue())
    atomic_write_text(os.path.join(run_dir, TRANSFORMER_FILE),
                      json.dumps(transformer.to_json(), indent=2) + "\n")
    atomic_write_text(os.path.join(run_dir, SCHEMA_FILE),
                      json.dumps(schema.to_json(), indent=2) + "\n")


def read_schema(run_dir):
    """The `TableSchema` a table run recorded."""
    return schema_lib.TableSchema.from_json(read_json(run_dir, SCHEMA_FILE))


def read_transformer(run_dir):
    """The fitted `TableTransformer` a table run recorded."""
    from gan_tf.tables.transformer import TableTransformer

    return TableTransformer.from_json(read_json(run_dir, TRANSFORMER_FILE))


def read_json(run_dir, name, required=True):
    """A JSON file of a table run; without it, a UserError (or None when not `required`)."""
    path = os.path.join(run_dir, name)
    if not os.path.isfile(path):
        if not required:
            return None
        raise UserError(f"{run_dir} is not a table run: it has no {name}. Pass the run "
                        "directory of `python -m gan_tf.train --dataset=csv:PATH`.")
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read {path}: {error}. Was it edited or truncated? Train the "
                        "run again (another --output_dir) to rewrite it.") from None


def read_run_splits(run_dir):
    """`(train_frame, holdout_frame)`: the real rows a table run trained on and the rows it
    held out, as pandas DataFrames with the original columns and dtypes (an empty holdout
    frame, with the columns, for `--holdout=0`)."""
    frames = []
    for name in (TRAIN_FILE, HOLDOUT_FILE):
        path = os.path.join(run_dir, name)
        if not os.path.isfile(path):
            raise UserError(f"{run_dir} has no {name}: it is not a table run, or its training "
                            "never started. Train it with `python -m gan_tf.train "
                            "--dataset=csv:PATH --output_dir=...`.")
        try:
            frames.append(pd.read_parquet(path))
        except Exception as error:  # noqa: BLE001 - pyarrow raises many types
            raise UserError(f"Cannot read {path}: {str(error).splitlines()[0]}. Train the "
                            "run again (another --output_dir) to rewrite it.") from None
    return frames[0], frames[1]
