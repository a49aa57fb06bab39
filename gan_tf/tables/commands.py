"""The table side of the train, generate and export commands, without printing or exiting.

`gan_tf.train`, `gan_tf.generate` and `gan_tf.export` call these for a table
(`--dataset=csv:PATH`, or `--model=` a table run) in two phases: `check_*` reads the parsed
absl flags and raises `UserError` for a bad flag before TensorFlow starts (exit 2); the
second phase does the work and returns the line to print, raising `BadFlag` for a flag the
run refuses (exit 2) and `UserError` for any other problem (exit 1).
"""

import dataclasses
import io
import os

from gan_tf.errors import UserError, check_positive_int, check_seed, invalid
from gan_tf.files import atomic_write_bytes
from gan_tf.tables.config import (  # noqa: F401 - the train command's test and check
    is_table_dataset, refuse_table_flags)


class BadFlag(UserError):
    """A flag the table run refuses (a condition it has no such value for): exit 2."""


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


def check_train(flag_values):
    """The `TableConfig` of the train flags (`UserError` for a bad one)."""
    from gan_tf.tables import config as config_lib

    return config_lib.from_flags(flag_values)


def train(config):
    """Trains the table run; returns the line to print."""
    from gan_tf.tables import train_lib

    result = train_lib.train(config)
    return f"Run: {result.run_dir} (epochs {result.end_epoch})"


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


@dataclasses.dataclass(frozen=True)
class GenerateRequest:
    model: str
    num_rows: int
    format: str
    output: str
    seed: int
    condition: object  # None, BALANCED or {column: value}
    checkpoint: str


def check_generate(flag_values):
    """The `GenerateRequest` of the generate flags (`UserError` for a bad one)."""
    values = flag_values
    if values["num_images"].present or values["labels"].present:
        raise UserError("--num_images and --labels are for image runs; "
                        f"--model={values.model} is a table run. Use --num_rows=N and "
                        "--condition=COLUMN=VALUE (or --condition=balanced).")
    fmt = values.format if values["format"].present else "csv"
    check_generate_request(values.num_rows, fmt, values.output, values.seed)
    return GenerateRequest(values.model, values.num_rows, fmt, values.output, values.seed,
                           parse_condition(values.condition), values.checkpoint)


def generate(request):
    """Writes the rows; returns the line to print."""
    from gan_tf.tables import sampling

    gan, _, epochs = sampling.load_table_run(request.model, request.checkpoint)
    condition = request.condition
    try:
        options = sampling.condition_options(
            gan, request.num_rows, None if condition == BALANCED else condition,
            balanced=condition == BALANCED)
    except UserError as error:
        raise BadFlag(str(error)) from None
    frame = gan.sample_frame(request.num_rows, seed=request.seed, options=options)
    path = write_rows(frame, request.output, request.format)
    return (f"Wrote {len(frame)} rows of {len(frame.columns)} columns as {request.format} to "
            f"{path} (the run's checkpoint after {epochs} epochs, seed {request.seed}).")


def check_export(flag_values):
    """`(model, output, checkpoint)` of the export flags (`UserError` for a bad one)."""
    values = flag_values
    if values.format != "savedmodel":
        raise invalid("format", values.format, "savedmodel for a table run (its decoding of "
                      "columns, with strings, is a TensorFlow graph)")
    if os.path.lexists(os.path.expanduser(values.output)):
        raise UserError(f"--output={values.output} already exists; nothing was overwritten. "
                        "Pass a new folder.")
    return values.model, values.output, values.checkpoint


def export(request):
    """Exports the run's generator; returns the line to print."""
    from gan_tf.tables import export as export_lib
    from gan_tf.tables import sampling

    model, output, checkpoint = request
    gan, _, _ = sampling.load_table_run(model, checkpoint)
    path = export_lib.export_table_generator(gan, os.path.expanduser(output))
    return (f"Exported the table generator as savedmodel to {path} (signatures: serve(z, "
            "condition, seed), generate(num_rows, seed); see gan_tf.json)")


def check_evaluate(path, *, downstream=False, num_rows=None, seed=0, checkpoint="latest",
                   output=None, downstream_seeds=None):
    """`python -m gan_tf.evaluate` on a table run, its flags: the request `evaluate` runs.

    Called by `gan_tf.evaluate` when `path` is a table run (`is_table_model`), with the flags
    that apply to tables. Raises `BadFlag` for a bad one (before TensorFlow starts).
    """
    try:
        check_seed(seed)
        if num_rows is not None:
            check_positive_int("num_samples", num_rows)
        options = None
        if downstream:
            from gan_tf.tables import downstream as downstream_lib

            options = downstream_lib.Options(
                seeds=downstream_seeds or downstream_lib.Options.seeds, sample_seed=seed,
                num_synthetic=num_rows, checkpoint=checkpoint)
            options.validate()
    except UserError as error:
        raise BadFlag(str(error)) from None
    return dict(path=path, downstream=options, num_rows=num_rows, seed=seed,
                checkpoint=checkpoint, output=output)


def evaluate(request):
    """Scores a table run (or writes its downstream report): the lines to print."""
    if request["downstream"] is not None:
        from gan_tf.tables import downstream as downstream_lib

        report, output_dir = downstream_lib.run_downstream_report(
            request["path"], request["downstream"], request["output"])
        lines = downstream_lib.summary_lines(report)
        report_path = os.path.join(output_dir, downstream_lib.REPORT_FILE)
    else:
        from gan_tf.tables import evaluate_lib

        report, output_dir = evaluate_lib.evaluate_table_run(
            request["path"], request["num_rows"], request["seed"], request["checkpoint"],
            request["output"])
        lines = evaluate_lib.summary_lines(report)
        report_path = os.path.join(output_dir, evaluate_lib.REPORT_FILE)
    return "\n".join([*lines, f"Report: {report_path}"])
