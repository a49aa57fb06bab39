r"""Trains a GAN: `python -m gan_tf.train --epochs 50`.

With no flags it trains the DCGAN on the 5,000 real MNIST digits shipped with gan_tf (no
network needed) and writes everything to runs/embedded_mnist-dcgan/. Running the same command
again resumes from the latest checkpoint. Every flag is a field of `gan_tf.config.TrainConfig`.

Exit codes: 0 success (or a finished run left as it is), 1 an error in the data, the run
directory or during training, 2 an invalid flag (nothing is written), 75 stopped by SIGTERM
(preemption) after saving a checkpoint: rerun the same command to resume.
"""

import dataclasses
import os
import typing

from absl import flags, logging

from gan_tf.config import TrainConfig
from gan_tf import cli
from gan_tf.cli import EXIT_BAD_FLAGS, EXIT_ERROR
from gan_tf.errors import UserError


_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
           bool: flags.DEFINE_boolean}


def _define_flags():
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        kind = hints[field.name]
        kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
        _DEFINE[kind](field.name, field.default, field.metadata["help"])


_define_flags()
FLAGS = flags.FLAGS


def config_from_flags():
    return TrainConfig(**{field.name: FLAGS[field.name].value
                          for field in dataclasses.fields(TrainConfig)})


def main(argv):
    if cli.unexpected_arguments(argv):
        return EXIT_BAD_FLAGS
    try:
        config = config_from_flags()
    except UserError as error:
        return cli.error(error, EXIT_BAD_FLAGS)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    logging.set_verbosity(logging.WARNING)  # TF's INFO lines would drown the epoch lines
    from gan_tf import train_lib
    from gan_tf.callbacks import TrainingPreempted

    try:
        train_lib.train(config)
    except TrainingPreempted as stopped:
        return cli.error(stopped, TrainingPreempted.EXIT_CODE)
    except UserError as error:
        return cli.error(error, EXIT_ERROR)
    return 0


if __name__ == "__main__":
    cli.run(main)
