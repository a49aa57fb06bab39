r"""Trains a GAN: `python -m gan_tf.train --epochs 50`.

With no flags it trains a class-conditional DCGAN on the 5,000 real MNIST digits shipped with
gan_tf (no network needed; conditional because they have labels, --noconditional for the
unconditional GAN) and writes everything to runs/embedded_mnist-dcgan/. Running the same command
again resumes from the latest checkpoint. Every flag is a field of `gan_tf.config.TrainConfig`.

Exit codes: 0 success (or a finished run left as it is), 1 an error in the data, the run
directory or during training, 2 an invalid flag (nothing is written), 75 stopped by SIGTERM
(preemption) after saving a checkpoint: rerun the same command to resume.
"""


import sys

from absl import flags

from gan_tf.config import TrainConfig
from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    from gan_tf.tables import commands as tables  # a table: --dataset=csv:PATH
    if tables.is_table_dataset(flags.FLAGS.dataset):
        return cli.run_checked_command(tables.check_train, tables.train, flags.FLAGS)
    try:
        tables.refuse_table_flags(flags.FLAGS)
        config = cli.config_from_flags(TrainConfig)
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    cli.start_tensorflow()
    from gan_tf import train_lib
    from gan_tf.callbacks import TrainingPreempted

    try:
        train_lib.train(config)
    except TrainingPreempted as stopped:
        return cli.error(stopped, TrainingPreempted.EXIT_CODE)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    return 0


def console_main():
    """`gan-tf-train`, the console command `pip install` makes: the same as `python -m`."""
    # Defined here, not on import: `cli.parse_config(TrainConfig, argv)` parses the same flags
    # on a fresh FlagValues (in tests), and no other CLI's flags can clash with these.
    cli.define_config_flags(TrainConfig)
    from gan_tf.tables import config as table_config
    table_config.define_table_flags()  # --target, --column_kinds, ... for --dataset=csv:PATH
    flags.adopt_module_key_flags(table_config)
    flags.adopt_module_key_flags(cli)  # --help lists them as this program's flags
    cli.run_console(sys.modules[__name__], main)


if __name__ == "__main__":
    console_main()
