"""Matplotlib figures of a run, written atomically as PNG.

Figures are made with `matplotlib.figure.Figure` (its own Agg canvas), never pyplot: no
backend is switched and no global figure state is touched, so a notebook's inline plots and
a user's own pyplot figures are left as they were.
"""

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
    figure = _figure(figsize=(10, 3.6))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
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
    _save(figure, path)


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _save(figure, path):
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())


def plot_class_histogram(fake_counts, real_counts, path, class_names=None):
    """Bars of the share of each class among samples (and among real images, if given)."""
    import numpy as np

    fake = np.asarray(fake_counts, np.float64)
    names = list(class_names) if class_names else [str(i) for i in range(len(fake))]
    figure = _figure(figsize=(max(5, 0.5 * len(fake) + 2), 3.4))
    axis = figure.subplots()
    positions = np.arange(len(fake))
    width = 0.4 if real_counts is not None else 0.8
    axis.bar(positions - (width / 2 if real_counts is not None else 0),
             fake / max(1.0, fake.sum()), width, label=f"samples (n={int(fake.sum())})")
    if real_counts is not None:
        real = np.asarray(real_counts, np.float64)
        axis.bar(positions + width / 2, real / max(1.0, real.sum()), width,
                 label=f"real (n={int(real.sum())})")
    axis.axhline(1 / len(fake), color="gray", linestyle=":", linewidth=1)
    axis.set_xticks(positions, names, rotation=45 if len(names) > 12 else 0)
    axis.set(xlabel="class (as the judge sees it)", ylabel="share", title="Classes of samples")
    axis.legend()
    _save(figure, path)


def plot_scores(records, path, metric_names=None):
    """FD, KD (FID, KID) and class coverage over epochs, from metrics.jsonl records that have them.

    Args:
        records: metrics.jsonl records (their `fd`, `kid` and `class_coverage`).
        path: the PNG to write.
        metric_names: what the judge's scores are called (`Extractor.metric_names`, e.g.
            "FID" only for the reference graph); None titles the panels "FD" and "KD".
    """
    names = {"fd": "FD", "kid": "KD", "class_coverage": "classes covered",
             **{key: value for key, value in (metric_names or {}).items() if key != "is"}}
    keys = [key for key in ("fd", "kid", "class_coverage") if any(key in r for r in records)]
    figure = _figure(figsize=(4 * len(keys), 3.2))
    axes = figure.subplots(1, len(keys), squeeze=False)
    for axis, key in zip(axes[0], keys):
        points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker=".")
        axis.set(xlabel="epoch", title=names[key])
        axis.grid(alpha=0.3)
    _save(figure, path)


def plot_downstream(report, path):
    """Bars of each arm's mean test accuracy, with its standard deviation over seeds."""
    import numpy as np

    arms = list(report["arms"].values())
    means = np.array([100 * arm["mean"] for arm in arms])
    stds = np.array([100 * arm["std"] for arm in arms])
    figure = _figure(figsize=(7.5, 3.8))
    axis = figure.subplots()
    positions = np.arange(len(arms))
    axis.bar(positions, means, 0.6, yerr=stds, capsize=4,
             color=["#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#c44e52"][:len(arms)])
    for x, mean, std in zip(positions, means, stds):
        axis.text(x, mean + std, f"{mean:.1f}", ha="center", va="bottom", fontsize=8)
    low = max(0.0, float((means - stds).min()) - 5)
    axis.set_ylim(low, min(100.0, float((means + stds).max()) + 3))
    axis.set_xticks(positions, [arm["title"].replace(" + ", "\n+ ") for arm in arms],
                    fontsize=8)
    axis.set(ylabel=f"{report['split']} accuracy (%)",
             title=f"Classifier trained on ... ({len(report['seeds'])} seeds; "
                   f"{report['real_train_images']} real images)")
    figure.text(0.5, 0.005, report["verdict"], ha="center", fontsize=7)
    _save(figure, path)
