"""Pictures of synthetic rows against real ones, written atomically as PNG.

- `plot_columns(real, synthetic, schema, path)`: one panel per column, read at a glance:
  overlaid histograms for numbers, side-by-side bars for categories, each titled with the
  column's SDMetrics shape score and both missing rates. The table run's training callback
  calls it every N epochs.
- `plot_pair_trends(real, synthetic, schema, path)`: the column-pair trend difference as a
  heatmap (1 - SDMetrics' pair score: |r_real - r_synthetic| / 2 for two numbers, the total
  variation distance of the joint frequencies otherwise; 0 is a trend kept).
- `plot_downstream(report, path)`: the tables' downstream report as bars with intervals.

Like `gan_tf.plots`, figures are `matplotlib.figure.Figure` objects (never pyplot), so no
backend or global figure state is touched.
"""

import math

import numpy as np
import pandas as pd

from gan_tf.plots import _figure, _save
from gan_tf.tables import metrics

MAX_BARS = 12  # categories shown per panel; the rest are summed as "other"
HISTOGRAM_BINS = 30
REAL_COLOUR, SYNTHETIC_COLOUR = "#4c72b0", "#dd8452"


def plot_columns(real, synthetic, schema, path, title=None, columns_per_row=4):
    """Real against synthetic rows, one panel per column, in one PNG at `path`.

    Args:
        real: real rows (a DataFrame).
        synthetic: synthetic rows with the same columns.
        schema: a `TableSchema`, a `{column: kind}` dict, or None (kinds from dtypes).
        path: the PNG to write (atomically).
        title: the figure's title (default: the row counts).
        columns_per_row: panels per row.
    """
    kinds = metrics.column_kinds(real, schema)
    shapes = {row["column"]: row["score"]
              for row in metrics.column_shapes(real, synthetic, kinds)}
    count = len(kinds)
    across = max(1, min(columns_per_row, count))
    down = math.ceil(count / across)
    figure = _figure(figsize=(3.6 * across, 2.8 * down + 0.5))
    axes = figure.subplots(down, across, squeeze=False).ravel()
    for axis, (name, kind) in zip(axes, kinds.items()):
        if kind in metrics.NUMERIC_KINDS:
            _numeric_panel(axis, real[name], synthetic[name], kind)
        else:
            _category_panel(axis, real[name], synthetic[name])
        missing = ""
        if real[name].isna().any() or synthetic[name].isna().any():
            missing = (f"\nmissing {100 * real[name].isna().mean():.0f}% real, "
                       f"{100 * synthetic[name].isna().mean():.0f}% synthetic")
        score = shapes[name]
        axis.set_title(f"{name} ({kind}): shape {score:.2f}{missing}", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in axes[count:]:
        axis.set_visible(False)
    axes[0].legend(fontsize=7)
    figure.suptitle(title or f"Real ({len(real):,} rows) against synthetic "
                             f"({len(synthetic):,} rows)", fontsize=10)
    _save(figure, path)


def _numeric_panel(axis, real, synthetic, kind):
    real = pd.to_numeric(real, errors="coerce").dropna().to_numpy(np.float64)
    synthetic = pd.to_numeric(synthetic, errors="coerce").dropna().to_numpy(np.float64)
    both = np.concatenate([real, synthetic])
    if not both.size:
        axis.text(0.5, 0.5, "all missing", ha="center", transform=axis.transAxes)
        return
    low, high = np.quantile(both, [0.001, 0.999]) if both.size > 1000 else (both.min(),
                                                                             both.max())
    if kind == "integer" and high - low < HISTOGRAM_BINS:
        edges = np.arange(np.floor(low), np.ceil(high) + 2) - 0.5
    else:
        edges = np.linspace(low, high if high > low else low + 1, HISTOGRAM_BINS + 1)
    for values, label, colour in ((real, "real", REAL_COLOUR),
                                  (synthetic, "synthetic", SYNTHETIC_COLOUR)):
        if values.size:
            axis.hist(np.clip(values, edges[0], edges[-1]), bins=edges, density=True,
                      histtype="stepfilled", alpha=0.45, color=colour, label=label)
    axis.set_yticks([])  # densities: the shapes are what to compare, not their scale


def _category_panel(axis, real, synthetic):
    real_share = pd.Series(metrics._as_strings(real)).value_counts(normalize=True)
    synthetic_share = pd.Series(metrics._as_strings(synthetic)).value_counts(normalize=True)
    order = list(real_share.index) + [v for v in synthetic_share.index if v not in real_share]
    shown = order[:MAX_BARS]
    real_values = [real_share.get(value, 0.0) for value in shown]
    synthetic_values = [synthetic_share.get(value, 0.0) for value in shown]
    if len(order) > MAX_BARS:
        shown.append("other")
        real_values.append(1 - sum(real_values))
        synthetic_values.append(1 - sum(synthetic_values))
    positions = np.arange(len(shown))
    axis.bar(positions - 0.2, real_values, 0.4, color=REAL_COLOUR, label="real")
    axis.bar(positions + 0.2, synthetic_values, 0.4, color=SYNTHETIC_COLOUR,
             label="synthetic")
    labels = [value if len(value) <= 12 else value[:11] + "…" for value in shown]
    axis.set_xticks(positions, labels, rotation=45 if len(shown) > 4 else 0, ha="right"
                    if len(shown) > 4 else "center")
    axis.set_ylabel("share", fontsize=7)


def trend_difference_matrix(real, synthetic, schema):
    """`(names, matrix)`: 1 - SDMetrics' pair score for every pair of columns (0 on the
    diagonal, NaN where the score is undefined, e.g. a constant column)."""
    kinds = metrics.column_kinds(real, schema)
    names = list(kinds)
    matrix = np.zeros((len(names), len(names)))
    for row in metrics.column_pair_trends(real, synthetic, kinds):
        i, j = (names.index(name) for name in row["columns"])
        matrix[i, j] = matrix[j, i] = 1 - row["score"]
    return names, matrix


def plot_pair_trends(real, synthetic, schema, path):
    """The column-pair trend difference of synthetic rows as a heatmap PNG at `path`."""
    names, matrix = trend_difference_matrix(real, synthetic, schema)
    size = max(4.5, 0.55 * len(names) + 2.5)
    figure = _figure(figsize=(size + 1, size))
    axis = figure.subplots()
    image = axis.imshow(np.ma.masked_invalid(matrix), cmap="Reds", vmin=0,
                        vmax=max(0.25, float(np.nanmax(matrix)) if matrix.size else 0.25))
    if len(names) <= 16:
        for i in range(len(names)):
            for j in range(len(names)):
                if i != j:
                    text = "n/a" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.2f}"
                    axis.text(j, i, text, ha="center", va="center", fontsize=7)
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    axis.set_title("Pair trend difference, real against synthetic\n(|r difference| / 2 for "
                   "two numbers, else the joint frequencies' TV distance; 0 is kept)",
                   fontsize=9)
    _save(figure, path)


def plot_downstream(report, path):
    """Bars of each arm's mean score, with the interval of its difference from `real`."""
    arms = report["arms"]
    names = list(arms)
    means = np.array([arms[name]["mean"] for name in names])
    figure = _figure(figsize=(8, 3.8))
    axis = figure.subplots()
    positions = np.arange(len(names))
    axis.bar(positions, means, 0.6,
             color=["#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#c44e52"][:len(names)])
    for x, name in zip(positions, names):
        gain = arms[name].get("against_real")
        label = f"{arms[name]['mean']:.3f}"
        if gain and gain.get("ci_low") is not None:
            label += f"\n{gain['mean']:+.3f}\n[{gain['ci_low']:+.3f}, {gain['ci_high']:+.3f}]"
        axis.text(x, arms[name]["mean"], label, ha="center", va="bottom", fontsize=7)
    top = float(np.nanmax(means)) if means.size else 1.0
    axis.set_ylim(min(0.0, float(np.nanmin(means))), top * 1.25 if top > 0 else 1.0)
    axis.set_xticks(positions, [arms[name]["title"].replace(" + ", "\n+ ") for name in names],
                    fontsize=8)
    axis.set(ylabel=report["metric_title"],
             title=f"Trained on ..., tested on {report['test_rows']} held-out rows "
                   f"({len(report['seeds'])} seeds; differences from real with 95% CI)")
    axis.title.set_fontsize(9)
    figure.text(0.5, 0.005, report["verdict"], ha="center", fontsize=7, wrap=True)
    _save(figure, path)
