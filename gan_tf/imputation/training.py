"""Training a `GainImputer` by `fit`, in a run directory that resumes, and its export.

A run directory of the imputer holds, as an image run does (`gan_tf.runs`):
    config.json     the `ImputeConfig` and library versions
    schema.json     tables: the table's `TableSchema` (how GAIN's matrix decodes)
    checkpoints/    both networks and both optimizers, every 1,000 steps (an "epoch")
    metrics.jsonl   one JSON line per 1,000 steps: d_loss, g_loss, mse, d_accuracy
    imputer/        the exported SavedModel (loads without gan_tf): `impute(values, mask,
                    seed)` on GAIN's [0, 1] matrix, observed entries passed through
Rerunning the same command resumes from the newest checkpoint; the training draws are a pure
function of (seed, step), so a run killed (even with kill -9) and resumed ends with the same
weights as one never interrupted.
"""

import json
import math
import os

from gan_tf import messages, runs
from gan_tf.errors import UserError
from gan_tf.files import (DirectoryLock, atomic_write_text, replace_directory,
                          staging_directory)

CONFIG_FILE = "config.json"
SCHEMA_FILE = "schema.json"
CHECKPOINTS_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"
EXPORT_DIR = "imputer"
STEPS_PER_EPOCH = 1000

_logger = messages.get_logger(__name__)


def schedule(iterations, steps_per_epoch=STEPS_PER_EPOCH):
    """`(steps_per_epoch, epochs)` of a run of `iterations` steps (rounded up to whole epochs).

    An "epoch" is `steps_per_epoch` steps: a checkpoint and a metrics line each."""
    steps = min(iterations, steps_per_epoch)
    return steps, math.ceil(iterations / steps)


def build_imputer(sample_shape, seed=0, hint_rate=0.9, alpha=100.0, hidden_units=None,
                  drop_rate=0.0, drop_square=0.0, learning_rate=1e-3):
    """A compiled `GainImputer` for entries of `sample_shape` (one row, or one image).

    Tables (`(features,)`) get the MLPs of the paper, images (`(height, width, channels)`)
    the convolutional networks of `gan_tf.imputation.images`; both players train with
    Adam at `learning_rate`.
    """
    import keras

    from gan_tf.imputation import gain

    if len(sample_shape) == 1:
        generator = gain.GainGenerator(sample_shape[0], hidden_units, seed=seed)
        discriminator = gain.GainDiscriminator(sample_shape[0], hidden_units, seed=seed)
    else:
        from gan_tf.imputation import images

        generator = images.ConvGainGenerator(tuple(sample_shape), seed=seed)
        discriminator = images.ConvGainDiscriminator(tuple(sample_shape), seed=seed)
    imputer = gain.GainImputer(generator, discriminator, seed=seed, hint_rate=hint_rate,
                               alpha=alpha, drop_rate=drop_rate, drop_square=drop_square)
    imputer.compile(generator_optimizer=keras.optimizers.Adam(learning_rate),
                    discriminator_optimizer=keras.optimizers.Adam(learning_rate))
    return imputer


def train_imputer(values, mask, seed=0, iterations=10000, batch_size=128, hint_rate=0.9,
                  alpha=100.0, hidden_units=None, run_dir=None,
                  steps_per_epoch=STEPS_PER_EPOCH, drop_rate=0.0, drop_square=0.0,
                  learning_rate=1e-3):
    """A `GainImputer` trained on `values` (in [0, 1], NaN where `mask` is 0).

    With `run_dir`, it checkpoints there every `steps_per_epoch` steps, logs `metrics.jsonl`
    and resumes from the newest
    checkpoint; training stops with `TrainingDiverged` at a non-finite loss. Without, it
    trains in memory.

    Returns:
        the trained `GainImputer`.
    """
    from gan_tf.callbacks import MetricsLog, ResumableCheckpoint, StopOnNonFinite
    from gan_tf.imputation import gain

    imputer = build_imputer(values.shape[1:], seed, hint_rate, alpha, hidden_units, drop_rate,
                            drop_square, learning_rate)
    steps, epochs = schedule(iterations, steps_per_epoch)
    callbacks, start = [StopOnNonFinite()], 0
    if run_dir:
        checkpoint = ResumableCheckpoint(os.path.join(run_dir, CHECKPOINTS_DIR), verbose=1)
        start = checkpoint.restore(imputer)
        callbacks += [checkpoint, MetricsLog(os.path.join(run_dir, METRICS_FILE))]
    if start < epochs:
        dataset = gain.training_dataset(values, mask, batch_size, seed, start * steps,
                                        epochs * steps)
        imputer.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=steps,
                    callbacks=callbacks, shuffle=False, verbose=0)
    return imputer


def open_run_dir(run_dir, config, schema=None):
    """Creates or reopens `run_dir` for `config`: refuses another config's run, writes
    config.json (and schema.json), and returns the held `DirectoryLock`."""
    from gan_tf.imputation.config import ImputeConfig

    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UserError(f"--run_dir={run_dir} is a file. Expected a folder (new, or a run of "
                        "this command to resume).")
    if os.path.exists(config_path):
        try:
            with open(config_path, encoding="utf-8") as stream:
                saved = ImputeConfig(**json.load(stream)["config"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{config_path} cannot be read ({error}). Pass a new --run_dir, "
                            "or move that folder away.") from None
        differences = saved.differences(config)
        if differences:
            lines = "; ".join(f"{name}: saved {old!r}, now {new!r}"
                              for name, (old, new) in sorted(differences.items()))
            raise UserError(f"{run_dir} holds an imputer trained with other settings "
                            f"({lines}). Rerun with the same flags to resume it, or pass a "
                            "new --run_dir.")
        _check_same_table(run_dir, schema)
    elif os.path.isdir(run_dir) and set(os.listdir(run_dir)) - {DirectoryLock.FILE}:
        raise UserError(f"--run_dir={run_dir} is not empty and holds no {CONFIG_FILE}: it is "
                        "not an imputer run. Pass an empty or new folder.")
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as error:
        raise UserError(f"Cannot create --run_dir={run_dir}: {error.strerror or error}. Pass "
                        "a folder you can write to.") from None
    lock = DirectoryLock(run_dir, what=f"The run directory {run_dir}")
    lock.acquire()
    record = {"config": config.to_dict(), "versions": runs.library_versions()}
    atomic_write_text(config_path, json.dumps(record, indent=2) + "\n")
    if schema is not None:
        atomic_write_text(os.path.join(run_dir, SCHEMA_FILE),
                          json.dumps(schema.to_json(), indent=2) + "\n")
    return lock


def _check_same_table(run_dir, schema):
    """Refuses to resume an imputer trained on a table of another schema (an edited or other
    file at the same --data path): its checkpoints would fill this table wrongly or not at
    all."""
    path = os.path.join(run_dir, SCHEMA_FILE)
    if schema is None or not os.path.exists(path):
        return
    from gan_tf.tables.schema import TableSchema

    try:
        with open(path, encoding="utf-8") as stream:
            recorded = TableSchema.from_json(json.load(stream))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} cannot be read ({error}). Pass a new --run_dir, or move that "
                        "folder away.") from None
    if recorded != schema:
        changed = sorted({c.name for c in schema.columns} ^ {c.name for c in recorded.columns}
                         | {c.name for c, r in zip(schema.columns, recorded.columns) if c != r})
        raise UserError(f"{run_dir} holds an imputer trained on another table (its columns, "
                        f"kinds, categories or ranges differ: {', '.join(changed[:5])}). Pass a "
                        "new --run_dir to train on this table, or give the table it was "
                        "trained on.")


def export_imputer(imputer, path, metadata=None):
    """Writes the imputer's SavedModel at `path` (replacing an older one only on success).

    Its `impute(values, mask, seed)` endpoint takes float32 values of the training shape
    (GAIN's [0, 1] matrix; anything, NaN included, where missing), a 0/1 mask and an int64
    seed, and returns `{"filled": ...}`: observed entries as given, holes filled as
    `GainImputer.impute` fills them. `gan_tf.json` beside it holds `metadata` (for a table,
    the schema that decodes the matrix). Loads with `tf.saved_model.load` alone.
    """
    import keras
    import tensorflow as tf

    from gan_tf.imputation.gain import NOISE, NOISE_SCALE, imputer_draw

    generator = imputer.generator
    shape = [None] + [int(d) for d in generator.inputs[0].shape[1:]]
    archive = keras.export.ExportArchive()
    archive.track(generator)

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32, name="values"),
                                  tf.TensorSpec(shape, tf.float32, name="mask"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def impute(values, mask, seed):
        observed = mask > 0
        values = tf.where(observed, tf.where(tf.math.is_nan(values), 0.0, values), 0.0)
        noise = imputer_draw(seed, NOISE, 0, tf.shape(values), maxval=NOISE_SCALE)
        noisy = tf.where(observed, values, noise)
        proposals = generator([noisy, tf.cast(observed, tf.float32)], training=False)
        return {"filled": tf.where(observed, values, tf.cast(proposals, tf.float32))}

    archive.add_endpoint("impute", impute)
    path = os.path.abspath(path)
    with staging_directory(path, "export") as staging:
        archive.write_out(staging, verbose=False)
        atomic_write_text(os.path.join(staging, "gan_tf.json"),
                          json.dumps({"format": "savedmodel", "signature": "impute",
                                      "inputs": ["values", "mask", "seed"],
                                      **(metadata or {})}, indent=2) + "\n")
        replace_directory(staging, path)
    return path
