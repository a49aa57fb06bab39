"""Rows out of a table run: `load_table_run` and `sample_rows` (what `generate` calls)."""

import os

import numpy as np

from gan_tf import runs
from gan_tf.errors import UserError, check_positive_int, check_seed, invalid
from gan_tf.tables import data as data_lib

CHECKPOINTS = ("latest",)


def load_table_run(run_dir, checkpoint="latest"):
    """`(gan, config, epochs)`: a table run's `TableGAN` restored from its latest checkpoint.

    Raises `UserError` when `run_dir` is not a table run or has no checkpoint yet.
    """
    from gan_tf import callbacks as callbacks_lib
    from gan_tf.tables import model as model_lib
    from gan_tf.tables import networks
    from gan_tf.tables import stream as stream_lib
    from gan_tf.tables.train_lib import read_table_config

    if checkpoint not in CHECKPOINTS:
        raise invalid("checkpoint", checkpoint, "'latest' (a table run keeps no best "
                      "checkpoint)")
    run_dir = os.path.abspath(run_dir)
    if not data_lib.is_table_run(run_dir):
        raise UserError(f"{run_dir} is not a table run: it has no {data_lib.SCHEMA_FILE}. "
                        "Pass the run directory of `python -m gan_tf.train "
                        "--dataset=csv:PATH`.")
    config = read_table_config(run_dir)
    transformer = data_lib.read_transformer(run_dir)
    train, _ = data_lib.read_run_splits(run_dir)
    generator = networks.TableGenerator(transformer.output_dim, transformer.condition_dim,
                                        config.latent_dim, name="generator")
    critic = networks.TableCritic(transformer.output_dim, transformer.condition_dim,
                                  config.pac, seed=config.seed, name="discriminator")
    streamed = stream_lib.read_stream_record(run_dir)  # a streamed run: counts of every row
    counts = (streamed["condition_counts"] if streamed else
              model_lib.frame_condition_counts(transformer, train))
    gan = model_lib.TableGAN(generator, critic, transformer.to_json(), counts,
                             seed=config.seed)
    gan.compile()
    restored = callbacks_lib.ResumableCheckpoint(
        os.path.join(run_dir, runs.CHECKPOINTS_DIR), verbose=0)
    epochs = restored.restore(gan)
    if epochs == 0 and not restored.resume_step:
        raise UserError(f"{run_dir} has no checkpoint yet. Train it first (the same train "
                        "command).")
    return gan, config, epochs


def condition_options(gan, num_rows, condition=None, balanced=False):
    """Positions of the conditional vector, one per row (or None: unconditional).

    `condition`: `{column: value}` with one categorical or boolean column. `balanced`: rows
    spread evenly over the target's classes (in their order, repeating).
    """
    transformer = gan.transformer
    if condition and balanced:
        raise UserError("Invalid combination: a condition and balanced sampling. Pass one of "
                        "them.")
    if balanced:
        target = transformer.schema.target
        if target is None or not transformer.schema.column(target).discrete:
            raise UserError("Balanced sampling spreads rows over the target's classes, but "
                            "this run has no categorical --target. Train with --target=COLUMN "
                            "or pass --condition=COLUMN=VALUE.")
        classes = transformer.schema.column(target).categories
        options = [transformer.condition_index(target, value) for value in classes]
        return np.resize(np.asarray(options, np.int32), num_rows)
    if not condition:
        return None
    if not isinstance(condition, dict) or len(condition) != 1:
        raise invalid("condition", condition, "one COLUMN=VALUE (one categorical column; "
                      "the conditional vector holds one column's value)")
    (column, value), = condition.items()
    return transformer.condition_index(column, value)


def sample_rows(run_dir, num_rows, seed=0, condition=None, checkpoint="latest",
                balanced=False):
    """`num_rows` synthetic rows from a table run, a pure function of (run, seed, condition).

    The original column names, kinds and categories and the original dtypes (integers stay
    integers; NaN, or None in text columns, where the real data has missing values).

    Args:
        run_dir: a table run directory.
        num_rows: how many rows.
        seed: seed of the latents, the Gumbel noise and the conditions.
        condition: `{column: value}`: every row has that value in that categorical or boolean
            column, exactly (the generator is given it through the conditional vector and
            the column is set to it; not rejection sampling).
        checkpoint: "latest".
        balanced: spread the rows evenly over the target's classes.
    """
    check_positive_int("num_rows", num_rows)
    check_seed(seed)
    gan, _, _ = load_table_run(run_dir, checkpoint)
    options = condition_options(gan, num_rows, condition, balanced)
    return gan.sample_frame(num_rows, seed=seed, options=options)
