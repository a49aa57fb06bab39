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
        """Blocks (no polling) until the checkpoint callback has received SIGTERM.

        Python runs a signal's handler (here the callback's) between bytecodes, so a wait on
        a lock or a pipe that the handler would release can miss a signal that arrives just
        before the wait blocks, and hang (a `threading.Event` set from the handler did, now
        and then). The C-level signal handler writes to the wakeup pipe as the signal
        arrives, so the read below returns; the loop then sees the callback's flag.
        """
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        previous_fd = signal.set_wakeup_fd(write_end)
        try:
            while not checkpoint.sigterm_received:
                os.read(read_end, 64)  # any signal wakes it; the loop tests the flag again
        finally:
            signal.set_wakeup_fd(previous_fd)
            os.close(read_end)
            os.close(write_end)

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
    from gan_tf.tables.config import define_table_flags
    define_table_flags()  # --target, --column_kinds, ... as `python -m gan_tf.train` has them
    flags.adopt_module_key_flags(cli)
    cli.run(train.main)


if __name__ == "__main__":
    main()
