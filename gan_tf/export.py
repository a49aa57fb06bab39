r"""Exports a generator for another runtime: `python -m gan_tf.export --model=RUN --format=litert
--output=generator_litert`.

--format: savedmodel (TensorFlow, TensorFlow Serving), litert (LiteRT, formerly TensorFlow Lite:
phones and microcontrollers; generator.tflite, optionally --quantization=dynamic_range or
float16) or onnx (ONNX Runtime in Python, C++, C#, Java or the browser; generator.onnx).
--model is a training run directory, its generator/ export or a .keras generator. The new
--output folder holds the model and gan_tf.json, which names its input and output tensors and
records how far the export's images are from the SavedModel's on 32 fixed latents, as run by
the export's own runtime.

The library is `gan_tf.export_lib` (`export_model`, `export_generator`); the names users
imported from this module before it became a command still work.

Exit codes: 0 success, 1 an error in the model or the output, 2 an invalid flag.
"""

import os
import sys

from absl import flags

from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError

# The library's names, as `from gan_tf.export import export_generator` gave them before.
_LIBRARY_NAMES = ("export_generator", "export_model", "read_metadata", "load_generator",
                  "METADATA_FILE")


def __getattr__(name):
    if name in _LIBRARY_NAMES:
        from gan_tf import export_lib

        return getattr(export_lib, name)
    raise AttributeError(f"module 'gan_tf.export' has no attribute {name!r}")


def define_flags():
    from gan_tf.names import EXPORT_FORMATS, EXPORT_QUANTIZATIONS

    flags.DEFINE_string("model", None, "a training run directory, its generator/ export, or "
                        "a generator saved as a .keras file")
    flags.DEFINE_string("format", "savedmodel", " | ".join(EXPORT_FORMATS) + ": TensorFlow "
                        "and TensorFlow Serving | LiteRT (formerly TensorFlow Lite) | ONNX "
                        "Runtime")
    flags.DEFINE_string("output", None, "the new folder to write (must not exist)")
    flags.DEFINE_enum("checkpoint", "latest", ["latest", "best"], "a run's newest "
                      "checkpoint, or the one with the lowest FD during training")
    flags.DEFINE_string("quantization", "none", "--format=litert: "
                        + " | ".join(EXPORT_QUANTIZATIONS) + " (float32 | int8 weights | "
                        "float16 weights)")


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    from gan_tf.config import check_export_request

    FLAGS = flags.FLAGS
    from gan_tf.tables import commands as tables  # a table run: its own export
    if FLAGS.output and tables.is_table_model(FLAGS.model):
        return cli.run_checked_command(tables.check_export, tables.export, FLAGS)
    try:
        if not FLAGS.model or not FLAGS.output:
            raise UserError(f"Pass --model=RUN_OR_EXPORT and --output=NEW_FOLDER (received "
                            f"model={FLAGS.model!r}, output={FLAGS.output!r}).")
        check_export_request(FLAGS.format, FLAGS.quantization)
        if os.path.lexists(os.path.expanduser(FLAGS.output)):
            raise UserError(f"--output={FLAGS.output} already exists; nothing was "
                            "overwritten. Pass a new folder.")
        if not os.path.exists(os.path.expanduser(FLAGS.model)):
            raise UserError(f"--model={FLAGS.model} does not exist. Pass a training run "
                            "directory, its generator/ folder or a .keras file.")
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf import export_lib

    try:
        description = export_lib.export_model(FLAGS.model, FLAGS.output, FLAGS.format,
                                              FLAGS.checkpoint, FLAGS.quantization)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    for line in summary_lines(description, FLAGS.output):
        print(line)
    return 0


def summary_lines(description, output):
    """What an export wrote and how close it is to the SavedModel, as printable lines."""
    fmt = description["format"]
    lines = [f"Exported the generator as {fmt} to {os.path.abspath(output)}"]
    if fmt == "savedmodel":
        return lines
    quantization = description.get("quantization", "none")
    lines[0] += (f" ({description['file']}, {description['size_bytes'] / 1e6:.2f} MB"
                 + ("" if quantization == "none" else f", {quantization}") + ")")
    check = description.get("check", {})
    if check.get("checked"):
        lines.append(f"Checked with {check['runtime']} on {check['images']} fixed latents: "
                     f"largest difference from the SavedModel {check['max_abs_difference']:.2g}"
                     f" (mean {check['mean_abs_difference']:.2g}; at most "
                     f"{check['max_pixel_difference']} of 255 pixel levels)")
    else:
        lines.append(f"Not checked: {check.get('why', 'no runtime')}")
    inputs = ", ".join(f"{t['name']} {t['dtype']} {t['shape']}" for t in description["inputs"])
    lines.append(f"Inputs: {inputs}; output: images float32 "
                 f"{description['outputs'][0]['shape']} in [-1, 1] (see gan_tf.json)")
    return lines


def console_main():
    """`gan-tf-export`, the console command `pip install` makes: the same as `python -m`."""
    define_flags()
    cli.run_console(sys.modules[__name__], main)


if __name__ == "__main__":
    console_main()
