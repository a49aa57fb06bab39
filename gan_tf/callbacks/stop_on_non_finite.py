"""`StopOnNonFinite`: stops training at the first NaN/inf loss or gradient norm."""


import keras
import numpy as np

from gan_tf.errors import UserError


class TrainingDiverged(UserError):
    """A loss or metric became NaN or infinite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first step whose logs hold a NaN or infinite value.

    Unlike `keras.callbacks.TerminateOnNaN`, which reads only `logs["loss"]`, it checks
    every logged value (a GAN logs `d_loss` and `g_loss`) and raises `TrainingDiverged`
    at once, so no epoch-end callback can save the diverged state: the last good checkpoint
    stays the latest one.

    Example:
    ```python
    gan.fit(dataset, epochs=50, callbacks=[StopOnNonFinite(), checkpoint])
    ```
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        bad = non_finite(logs)
        if bad:
            raise TrainingDiverged(
                f"Training diverged at step {batch + 1} of epoch {self._epoch + 1}: {bad}. "
                "Nothing of this epoch was saved; the last checkpoint is intact. Try lower "
                "learning rates or another loss, then rerun to resume from the checkpoint.")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def non_finite(logs):
    """'name = value' for every NaN or infinite value in `logs`, or '' if there is none."""
    bad = []
    for key, value in (logs or {}).items():
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            bad.append(f"{key} = {array.reshape(-1)[0]}")
    return ", ".join(bad)
