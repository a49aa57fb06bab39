"""Matplotlib figures of a run, written atomically as PNG."""

import io

from gan_tf.files import atomic_write_bytes

_LOSS_KEYS = ("d_loss", "g_loss")
_ACCURACY_KEYS = ("real_accuracy", "fake_accuracy")


def plot_metrics(records, path, title="Training"):
    """Plots per-epoch losses (left axis) and D's accuracies (right panel) from `records`.

    Args:
        records: a list of dicts, one per epoch, each with "epoch" and any of d_loss, g_loss,
            real_accuracy, fake_accuracy (as written in metrics.jsonl).
        path: where to write the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [record["epoch"] for record in records]
    for key in _LOSS_KEYS:
        if any(key in record for record in records):
            loss_axis.plot(epochs, [record.get(key, float("nan")) for record in records],
                           label=key, marker="." if len(records) < 30 else None)
    loss_axis.set(xlabel="epoch", ylabel="loss", title=f"{title}: losses")
    for key in _ACCURACY_KEYS:
        if any(key in record for record in records):
            accuracy_axis.plot(epochs, [record.get(key, float("nan")) for record in records],
                               label=f"D {key.replace('_', ' ')}")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
                      title="discriminator accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
