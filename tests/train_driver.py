r"""`python -m gan_tf.train` for the subprocess tests: the same program, plus marker files.

    GAN_TF_MARKER_DIR=DIR [GAN_TF_PAUSE_AT=E:S] python tests/train_driver.py --flags...

A test that kills or signals the trainer waits for these files instead of sleeping:
`step-E-S` after batch S of epoch E is done (its checkpoint included), `saving-E` just before
epoch E's checkpoint is written (after its grid and metrics line). With GAN_TF_PAUSE_AT=E:S
the trainer also writes `paused` after that batch and waits there until it is killed or gets
SIGTERM. The markers come from a `ResumableCheckpoint` subclass installed here, so the
library carries no test hooks.
"""

import os
import sys
import time


def marked_checkpoint_class(base, directory, pause):
    """`base` (ResumableCheckpoint) writing the markers into `directory`."""

    def touch(name):
        with open(os.path.join(directory, name), "w", encoding="utf-8"):
            pass

    class MarkedCheckpoint(base):
        def on_epoch_end(self, epoch, logs=None):
            touch(f"saving-{epoch + 1}")
            super().on_epoch_end(epoch, logs)

        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            epoch, step = self.position
            touch(f"step-{epoch + 1}-{step}")
            if (epoch + 1, step) == pause:
                touch("paused")
                while not self.sigterm_received:
                    time.sleep(0.01)

    return MarkedCheckpoint


def main():
    directory = os.environ["GAN_TF_MARKER_DIR"]
    pause = tuple(int(part) for part in os.environ.get("GAN_TF_PAUSE_AT", "0:0").split(":"))
    from absl import flags

    from gan_tf import callbacks, cli, train
    from gan_tf.config import TrainConfig

    callbacks.ResumableCheckpoint = marked_checkpoint_class(callbacks.ResumableCheckpoint,
                                                            directory, pause)
    sys.argv[0] = "gan_tf.train"
    cli.define_config_flags(TrainConfig)
    flags.adopt_module_key_flags(cli)
    cli.run(train.main)


if __name__ == "__main__":
    main()
