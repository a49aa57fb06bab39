r"""`python -m gan_tf.train` for the subprocess tests: the same program, plus marker files.

    GAN_TF_MARKER_DIR=DIR [GAN_TF_PAUSE_AT=E:S] python tests/train_driver.py --flags...

A test that kills or signals the trainer waits for these files instead of sleeping (each
marker's name is also written to the FIFO `DIR/events` when there is one, which wakes the
waiting test at once: see `wait_for_marker` in conftest.py):
`step-E-S` after batch S of epoch E is done (its checkpoint included), `saving-E` just before
epoch E's checkpoint is written (after its grid and metrics line). With GAN_TF_PAUSE_AT=E:S
the trainer also writes `paused` after that batch and waits there until it is killed or gets
SIGTERM. The markers come from a `ResumableCheckpoint` subclass installed here, so the
library carries no test hooks.
"""

import os
import signal
import sys
import threading


def marked_checkpoint_class(base, directory, pause):
    """`base` (ResumableCheckpoint) writing the markers into `directory`."""

    events = None
    fifo = os.path.join(directory, "events")
    if os.path.exists(fifo):  # the test holds its read end open
        events = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)

    def touch(name):
        with open(os.path.join(directory, name), "w", encoding="utf-8"):
            pass
        if events is not None:
            try:
                os.write(events, f"{name}\n".encode())
            except BlockingIOError:  # the pipe is full: the reader has a wake-up waiting
                pass
            except BrokenPipeError:  # the test stopped listening; the marker file is there
                pass

    def wait_for_sigterm(checkpoint):
        """Blocks (no polling) until the checkpoint callback has received SIGTERM."""
        received = threading.Event()
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):
            previous(signum, frame)
            received.set()

        signal.signal(signal.SIGTERM, handler)
        try:
            if not checkpoint.sigterm_received:  # else it came before `handler` was set
                received.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)

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
                wait_for_sigterm(self)

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
