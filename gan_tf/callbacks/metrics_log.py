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
            `plot_every_n_epochs` epochs and when training ends: every numeric key of the
            log, the losses (keys with "loss" in their name) in one panel and the others in
            a second (`plot_records`); a gan_tf GAN's log (D's accuracies) gets its losses
            and D's accuracies.
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
            plot_records(self.read(), self.plot_path)

    def on_train_end(self, logs=None):
        if self.plot_path:
            records = self.read()
            if records:
                plot_records(records, self.plot_path)


_NOT_PLOTTED = ("epoch", "time")


def plot_records(records, path, title="Training"):
    """Plots the numeric keys of metrics.jsonl `records` against the epoch into `path`.

    A gan_tf GAN's log (D's `real_accuracy` and `fake_accuracy`) gets `plots.plot_metrics`:
    losses, and D's accuracies on a 0-1 axis. Any other log: the keys with "loss" in their
    name in one panel and every other numeric key in a second (one panel when there is only
    one kind); `epoch` and `time` are not plotted.
    """
    if any("real_accuracy" in record or "fake_accuracy" in record for record in records):
        plots.plot_metrics(records, path, title=title)
        return
    keys = []
    for record in records:
        for key, value in record.items():
            if (key not in _NOT_PLOTTED and key not in keys and isinstance(value, (int, float))
                    and not isinstance(value, bool)):
                keys.append(key)
    losses = [key for key in keys if "loss" in key]
    others = [key for key in keys if "loss" not in key]
    groups = [(group, name) for group, name in ((losses, "losses"), (others, "metrics"))
              if group] or [([], "losses")]
    figure = plots._figure(figsize=(5 * len(groups), 3.6))
    axes = figure.subplots(1, len(groups), squeeze=False)[0]
    epochs = [record.get("epoch") for record in records]
    for axis, (group, name) in zip(axes, groups):
        for key in group:
            values = [record.get(key) for record in records]
            axis.plot(epochs, [float("nan") if v is None else v for v in values], label=key,
                      marker="." if len(records) < 30 else None)
        axis.set(xlabel="epoch", ylabel="value", title=f"{title}: {name}")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    plots._save(figure, path)
