r"""Writes a labelled synthetic dataset from a trained generator.

    python -m gan_tf.generate --model=runs/embedded_mnist-dcgan --num_images=1000 \
        --format=png --output=synthetic [--labels=balanced|0,3,7|cat,dog] [--seed=0]

--model is a training run directory (its newest checkpoint), an exported generator folder
(a run's generator/) or a generator saved as a .keras file (`gan.generator.save("g.keras")`).
Model files gan_tf did not write are opened safely or not at all (gan_tf.model_files): a
.keras file with a Lambda layer, a TFSMLayer or a class from outside Keras and gan_tf is
refused, the rest is loaded in Keras safe mode; legacy .h5/.hdf5 models are refused; an export
whose graph reads or writes files or runs Python is refused.

The images of a class-conditional model are spread evenly over the classes asked for (all by
default). --format=png writes one folder per class (loads with
`keras.utils.image_dataset_from_directory`), npz one data.npz, tfrecord one data.tfrecord
(read it with `gan_tf.generate_lib.read_tfrecord`); every format has a manifest.json. The
dataset appears at --output only when complete; a non-empty --output is refused.

Exit codes: 0 success, 1 an error in the model or the output folder, 2 an invalid flag
(nothing is written; --labels that the model has no classes for is an invalid flag too).
"""

import os

import sys

from absl import flags

from gan_tf import generate_lib, samplers
from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError


flags.DEFINE_string("model", None, "training run directory, exported generator folder or "
                    "generator .keras file (.h5 is refused: it can carry Python code)")
flags.DEFINE_integer("num_images", 1000, "how many images to generate")
flags.DEFINE_string("format", "png", "png (one folder per class) | npz | tfrecord")
flags.DEFINE_string("output", None, "new or empty folder to write the dataset to")
flags.DEFINE_string("labels", None, "conditional models: balanced (default: every class) | "
                    "comma-separated class indices or names, e.g. 0,3,7")
flags.DEFINE_integer("seed", 0, "seed of the latents: same model and seed, same images")
flags.DEFINE_integer("batch_size", 500, "images per generator call")
flags.DEFINE_enum("checkpoint", "latest", ["latest", "best"], "a run's newest checkpoint, or "
                  "the one with the lowest FD during training")
from gan_tf.tables import commands as tables  # noqa: E402 - table runs: rows, not images
tables.define_generate_flags()  # --num_rows, --condition
flags.adopt_module_key_flags(tables)
FLAGS = flags.FLAGS


def check_flags():
    """Raises UserError for a flag value that is wrong whatever the model (no TensorFlow)."""
    for name in ("model", "output"):
        if not (FLAGS[name].value or "").strip():
            raise UserError(f"--{name} is required: " + (
                "a training run directory, an exported generator folder or a generator "
                ".keras file." if name == "model"
                else "a new or empty folder for the dataset."))
    generate_lib.check_request(FLAGS.num_images, FLAGS.format, FLAGS.batch_size, FLAGS.seed,
                               FLAGS.labels, FLAGS.output)


def summary(manifest):
    """One line: how many images of which classes, in which format, where."""
    if manifest["counts"] is None:
        what = f"{manifest['num_images']} images"
    else:
        counts = ", ".join(f"{name}: {count}" for name, count in manifest["counts"].items()
                           if count)
        what = f"{manifest['num_images']} images ({counts})"
    return (f"Wrote {what} as {manifest['format']} to {manifest['output_dir']} "
            f"(manifest: {os.path.join(manifest['output_dir'], generate_lib.MANIFEST_FILE)})")


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    if tables.is_table_model(FLAGS.model):
        return cli.run_checked_command(tables.check_generate, tables.generate, FLAGS,
                                       tables.BadFlag)
    try:
        check_flags()
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()

    try:
        generate_lib.check_output_dir(FLAGS.output)  # before the model takes seconds to load
        sampler = samplers.load_sampler(FLAGS.model, FLAGS.checkpoint)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    try:
        classes = generate_lib.parse_labels(FLAGS.labels, sampler.num_classes,
                                            sampler.class_names)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    try:
        manifest = generate_lib.write_dataset(
            sampler, FLAGS.output, FLAGS.num_images, FLAGS.format, seed=FLAGS.seed,
            labels=classes, batch_size=FLAGS.batch_size)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    print(summary(manifest))
    return 0


def console_main():
    """`gan-tf-generate`, the console command `pip install` makes: the same as `python -m`."""
    cli.run_console(sys.modules[__name__], main)


if __name__ == "__main__":
    console_main()
