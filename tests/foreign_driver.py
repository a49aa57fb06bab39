"""Trains keras-io's DCGAN (tests/foreign_models.py) with every gan_tf callback in the current
folder, as a user's own script would: `python foreign_driver.py run EPOCHS`.

With FOREIGN_PAUSE_AT=E:S it writes the marker file `paused` into GAN_TF_MARKER_DIR after
batch S of epoch E (that batch's checkpoint saved), announces it on that folder's FIFO
`events` (see `wait_for_marker` in conftest.py) and waits there to be killed. At the end it
writes the model's weights to weights.npz.
"""

import os
import sys
import time

import keras
import numpy as np

import foreign_models


class PauseAt(keras.callbacks.Callback):
    def __init__(self, epoch, step):
        super().__init__()
        self.at = (epoch, step)
        self._epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch + 1) == self.at:
            directory = os.environ["GAN_TF_MARKER_DIR"]
            with open(os.path.join(directory, "paused"), "w", encoding="utf-8"):
                pass
            fifo = os.path.join(directory, "events")
            if os.path.exists(fifo):
                events = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.write(events, b"paused\n")
                os.close(events)
            time.sleep(600)  # killed here


def main(command, epochs):
    assert command == "run", command
    pause = os.environ.get("FOREIGN_PAUSE_AT")
    extra = [PauseAt(*(int(part) for part in pause.split(":")))] if pause else []
    model, _ = foreign_models.train("dcgan", ".", int(epochs), extra=extra)
    np.savez("weights.npz", *[np.asarray(weight) for weight in model.weights])


if __name__ == "__main__":
    main(*sys.argv[1:3])
