"""The table side of the train, generate and export commands (each dispatches here).

`gan_tf.train` calls `train_main` for `--dataset=csv:PATH`; `gan_tf.generate` and
`gan_tf.export` call `generate_main` / `export_main` when `--model` is a table run. Flags are
read from absl's parsed `FLAGS`; every bad flag is refused (exit 2) before TensorFlow starts.
"""

import io
import os

from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError, check_positive_int, check_seed, invalid
from gan_tf.files import atomic_write_bytes

ROW_FORMATS = ("csv", "parquet")
BALANCED = "balanced"


def is_table_model(model):
    """True when --model names a table run directory."""
    # data.SCHEMA_FILE, read without importing pandas (flag errors stay instant).
    return bool(model) and os.path.isfile(os.path.join(os.path.expanduser(model),
                                                       "schema.json"))


def define_generate_flags():
    """The generate command's table flags."""
    from absl import flags

    flags.DEFINE_integer("num_rows", None, "table runs: how many rows to generate")
    flags.DEFINE_string("condition", None, "table runs: COLUMN=VALUE (every row has that "
                        "value in that categorical column, exactly) | balanced (rows spread "
                        "evenly over the --target's classes)")


def train_main(flag_values):
    """`python -m gan_tf.train --dataset=csv:PATH ...`: returns the exit code."""
    from gan_tf.tables import config as config_lib

    try:
        config = config_lib.from_flags(flag_values)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf.callbacks import TrainingPreempted
    from gan_tf.tables import train_lib

    try:
        train_lib.train(config)
    except TrainingPreempted as stopped:
        return cli.error(stopped, TrainingPreempted.EXIT_CODE)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    return 0


def parse_condition(text):
    """`--condition`: None, "balanced", or `{column: value}` from COLUMN=VALUE."""
    if text is None or not text.strip():
        return None
    if text.strip() == BALANCED:
        return BALANCED
    column, equals, value = text.partition("=")
    if not equals or not column.strip():
        raise invalid("condition", text, "COLUMN=VALUE (e.g. smoker=yes) or balanced")
    return {column.strip(): value}


def check_generate_request(num_rows, format, output, seed):
    if num_rows is None:
        raise UserError("--num_rows is required for a table run: how many rows to write, "
                        "e.g. --num_rows=1000.")
    check_positive_int("num_rows", num_rows)
    if format not in ROW_FORMATS:
        raise invalid("format", format, "csv or parquet for a table run")
    check_seed(seed)
    if not (output or "").strip():
        raise UserError("--output is required: the new .csv or .parquet file to write.")
    if os.path.lexists(os.path.expanduser(output)):
        raise UserError(f"--output={output} already exists; nothing was overwritten. Pass a "
                        "new file name.")


def write_rows(frame, output, format):
    """Writes the rows atomically as CSV or Parquet; returns the absolute path."""
    path = os.path.abspath(os.path.expanduser(output))
    if format == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:
        data = frame.to_csv(index=False).encode("utf-8")
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise UserError(f"Cannot write --output={output}: {error.strerror or error}. Pass a "
                        "file in a folder you can write to.") from None
    return path


def generate_main(flag_values):
    """`python -m gan_tf.generate --model=TABLE_RUN ...`: returns the exit code."""
    values = flag_values
    try:
        if values["num_images"].present or values["labels"].present:
            raise UserError("--num_images and --labels are for image runs; "
                            f"--model={values.model} is a table run. Use --num_rows=N and "
                            "--condition=COLUMN=VALUE (or --condition=balanced).")
        fmt = values.format if values["format"].present else "csv"
        check_generate_request(values.num_rows, fmt, values.output, values.seed)
        condition = parse_condition(values.condition)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf.tables import sampling

    try:
        gan, _, epochs = sampling.load_table_run(values.model, values.checkpoint)
        options = sampling.condition_options(
            gan, values.num_rows, None if condition == BALANCED else condition,
            balanced=condition == BALANCED)
    except UserError as error:
        bad_flag = "condition" in str(error) or "Balanced" in str(error)
        return cli.error(error, EXIT_BAD_FLAGS if bad_flag else EXIT_ERROR)
    try:
        frame = gan.sample_frame(values.num_rows, seed=values.seed, options=options)
        path = write_rows(frame, values.output, fmt)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    print(f"Wrote {len(frame)} rows of {len(frame.columns)} columns as {fmt} to {path} "
          f"(the run's checkpoint after {epochs} epochs, seed {values.seed}).")
    return 0


def export_main(flag_values):
    """`python -m gan_tf.export --model=TABLE_RUN --output=NEW_FOLDER`: the exit code."""
    values = flag_values
    try:
        if values.format != "savedmodel":
            raise invalid("format", values.format, "savedmodel for a table run (its decoding "
                          "of columns, with strings, is a TensorFlow graph)")
        if os.path.lexists(os.path.expanduser(values.output)):
            raise UserError(f"--output={values.output} already exists; nothing was "
                            "overwritten. Pass a new folder.")
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf.tables import export as export_lib
    from gan_tf.tables import sampling

    try:
        gan, _, _ = sampling.load_table_run(values.model, values.checkpoint)
        path = export_lib.export_table_generator(gan, os.path.expanduser(values.output))
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    print(f"Exported the table generator as savedmodel to {path} (signatures: serve(z, "
          "condition, seed), generate(num_rows, seed); see gan_tf.json)")
    return 0
