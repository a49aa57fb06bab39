"""`MetricsLog`: one JSON line per epoch, and a plot of the curves."""

import json
import math
import os
import time

import keras
import numpy as np

from gan_tf import plots
from gan_tf.errors import check_positive_int
from gan_tf.files import atomic_write_text, count_lines, read_jsonl


class MetricsLog(keras.callbacks.Callback):
    """Appends one JSON line per epoch to a log file and plots the curves.

    Each line holds `epoch` (finished epochs, from 1), `time` (seconds since the epoch
    started) and every value in the epoch's logs. When training (re)starts, lines for epochs
    at or after the starting epoch (written by a run killed before its checkpoint) and a torn
    last line are dropped, so the file always matches the restored state.

    Example:
    ```python
    log = MetricsLog("/tmp/run/metrics.jsonl", plot_path="/tmp/run/losses.png")
    model.fit(x, y, epochs=10, callbacks=[log])
    ```

    Args:
        path: the JSON-lines file. Its folder is created if missing.
        plot_path: if set, a PNG of the curves (matplotlib), rewritten every
            `plot_every_n_epochs` epochs and when training ends.
        plot_every_n_epochs: how often to redraw the plot. Defaults to 10.
    """

    def __init__(self, path, plot_path=None, plot_every_n_epochs=10):
        super().__init__()
        check_positive_int("plot_every_n_epochs", plot_every_n_epochs)
        self.path = os.fspath(path)
        self.plot_path = plot_path
        self.plot_every_n_epochs = plot_every_n_epochs
        self._repaired = False

    def read(self):
        """The parseable records of the log file, in order."""
        return read_jsonl(self.path)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        if not self._repaired:
            self._repaired = True
            records = self.read()
            kept = [record for record in records if record.get("epoch", 0) <= epoch]
            if len(kept) != count_lines(self.path):
                atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1,
                  "time": round(time.time() - getattr(self, "_epoch_start", time.time()), 3)}
        for key, value in (logs or {}).items():
            value = float(np.asarray(value).reshape(-1)[0])
            record[key] = value if math.isfinite(value) else None  # JSON null, a gap in plots
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        if self.plot_path and (epoch + 1) % self.plot_every_n_epochs == 0:
            plots.plot_metrics(self.read(), self.plot_path)

    def on_train_end(self, logs=None):
        if self.plot_path:
            records = self.read()
            if records:
                plots.plot_metrics(records, self.plot_path)
