"""`evaluate` for a table run: how good are its rows? (`python -m gan_tf.evaluate --run_dir=RUN`
on a run trained with `--dataset=csv:PATH`).

It samples rows from the run (`sampling.sample_rows`), scores them against the real rows of
the run (`data.read_run_splits`: the rows it trained on and the held-out rows it never saw),
prints one line per score with its sample sizes, and writes `RUN/evaluation/report.json`,
`columns.png` (real against synthetic, per column) and `pair_trends.png` (the column-pair
trend difference). The scores are `gan_tf.tables.metrics`':

- quality: SDMetrics' quality score of the synthetic rows against the training rows, beside
  the same score of the held-out real rows (what new real rows reach: the ceiling);
- detection: ROC AUC of classifiers telling held-out real rows from synthetic ones;
- efficacy (runs with a `--target`): train on synthetic, test on held-out, against train on
  real;
- privacy: distances to the closest training row, synthetic against held-out, exact copies.

`evaluate --downstream` on a table run is `gan_tf.tables.downstream.run_downstream_report`.
"""

import dataclasses
import json
import os
import time

import numpy as np

from gan_tf.errors import check_positive_int, check_seed
from gan_tf.messages import get_logger
from gan_tf.tables import metrics

_logger = get_logger(__name__)

REPORT_FILE = "report.json"
COLUMNS_PLOT = "columns.png"
PAIRS_PLOT = "pair_trends.png"


def is_table_run(path):
    """Whether `path` is a table run directory (it holds the run's schema)."""
    from gan_tf.tables import data

    return bool(path) and data.is_table_run(path)


@dataclasses.dataclass
class TableRun:
    """A table run's schema and real rows, as evaluation needs them."""

    run_dir: str
    checkpoint: str
    schema: object
    train: object  # DataFrame: the rows the run trained on
    holdout: object  # DataFrame: real rows it never saw (may be empty)

    @property
    def evaluation_dir(self):
        from gan_tf import runs

        return runs.evaluation_dir(self.run_dir, self.checkpoint)


def load_table_run(run_dir, checkpoint="latest"):
    """The `TableRun` of `run_dir`; UserError when it is not a readable table run."""
    from gan_tf.tables import data

    return TableRun(run_dir, checkpoint, data.read_schema(run_dir),
                    *data.read_run_splits(run_dir))


def sample(run, num_rows, seed):
    """`num_rows` synthetic rows of `run` (its `checkpoint`), drawn with `seed`."""
    from gan_tf.tables.sampling import sample_rows

    return sample_rows(run.run_dir, num_rows, seed=seed, checkpoint=run.checkpoint)


def evaluate_frames(train, holdout, synthetic, schema, seed=0):
    """The scores of `synthetic` rows against real `train` and `holdout` rows (a JSON-ready
    dict). Without held-out rows only the quality is scored."""
    check_seed(seed)
    kinds = metrics.column_kinds(train, schema)
    report = {"rows": {"train": int(len(train)), "holdout": int(len(holdout)),
                       "synthetic": int(len(synthetic))}}
    timings = {}
    clock = time.perf_counter()
    report["quality"] = metrics.quality_report(train, synthetic, kinds, seed=seed)
    if len(holdout):
        reference = metrics.quality_report(train, holdout, kinds, seed=seed)
        report["quality"]["holdout_score"] = reference["score"]
    timings["quality"] = time.perf_counter() - clock
    if len(holdout) < 10:
        report["skipped"] = (f"detection, efficacy and privacy need held-out real rows; the "
                             f"run has {len(holdout)}. Train with a held-out fraction.")
        report["seconds"] = {key: round(value, 1) for key, value in timings.items()}
        return report
    clock = time.perf_counter()
    report["detection"] = metrics.detection(holdout, synthetic, kinds, seed=seed)
    timings["detection"] = time.perf_counter() - clock
    target = getattr(schema, "target", None)
    if target is not None:
        clock = time.perf_counter()
        report["efficacy"] = metrics.efficacy(train, holdout, synthetic, schema, target,
                                              seed=seed)
        timings["efficacy"] = time.perf_counter() - clock
    clock = time.perf_counter()
    report["privacy"] = metrics.privacy(train, holdout, synthetic, kinds, seed=seed)
    timings["privacy"] = time.perf_counter() - clock
    report["seconds"] = {key: round(value, 1) for key, value in timings.items()}
    return report


def summary_lines(report):
    """The report as printable lines: one per score, with the rows it used."""
    rows = report["rows"]
    quality = report["quality"]
    trends = quality["column_pair_trends"]
    trends = (f"pair trends {trends:.3f}" if trends is not None and not np.isnan(trends) else
              "no column pair with a strong real trend, so no pair-trend score")
    line = (f"Quality (SDMetrics): {quality['score']:.3f} (column shapes "
            f"{quality['column_shapes']:.3f}, {trends})"
            f" of {rows['synthetic']:,} synthetic against {rows['train']:,} training rows")
    if "holdout_score" in quality:
        line += f"; {rows['holdout']:,} held-out real rows score {quality['holdout_score']:.3f}"
    lines = [line]
    if "skipped" in report:
        return lines + ["Skipped: " + report["skipped"]]
    detection = report["detection"]
    lines.append(f"Detection AUC: {detection['auc']:.3f} (logistic regression "
                 f"{detection['logistic_regression']:.3f}, gradient boosting "
                 f"{detection['gradient_boosting']:.3f}) on {detection['rows_each']:,} "
                 "held-out real and as many synthetic rows; 0.5 is indistinguishable")
    if "efficacy" in report:
        efficacy = report["efficacy"]
        name = "macro F1" if efficacy["metric"] == "f1" else "R2"
        ratio = "n/a" if efficacy["ratio"] is None else f"{efficacy['ratio']:.3f}"
        lines.append(f"Efficacy ({efficacy['target']!r}, {name}, mean of 3 models): trained "
                     f"on {efficacy['synthetic_rows']:,} synthetic rows "
                     f"{efficacy['synthetic_mean']:.3f}, on {efficacy['real_rows']:,} real "
                     f"rows {efficacy['real_mean']:.3f}, ratio {ratio}; tested on "
                     f"{efficacy['test_rows']:,} held-out rows")
    privacy = report["privacy"]
    synthetic, holdout = privacy["synthetic"], privacy["holdout"]
    lines.append(f"Privacy: distance to the closest training row, median {synthetic['median']:.3f}"
                 f" for {synthetic['rows']:,} synthetic rows against {holdout['median']:.3f} for "
                 f"{holdout['rows']:,} held-out rows; exact copies {synthetic['exact_copies']} "
                 f"(held-out rows: {holdout['exact_copies']})")
    if privacy["warning"]:
        lines.append(privacy["warning"])
    return lines


def write_evaluation(report, train, synthetic, schema, output_dir):
    """report.json, columns.png and pair_trends.png in `output_dir`, each written atomically
    (other files there, e.g. an image report or `downstream/`, are left as they are)."""
    from gan_tf.files import atomic_write_text
    from gan_tf.tables import plots

    os.makedirs(output_dir, exist_ok=True)
    plots.plot_columns(train, synthetic, schema, os.path.join(output_dir, COLUMNS_PLOT))
    plots.plot_pair_trends(train, synthetic, schema, os.path.join(output_dir, PAIRS_PLOT))
    atomic_write_text(os.path.join(output_dir, REPORT_FILE),
                      json.dumps(_json_ready(report), indent=2) + "\n")


def _json_ready(value):
    """NaN -> None (JSON has no NaN), numpy numbers -> Python ones, recursively."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def evaluate_table_run(run_dir, num_rows=None, seed=0, checkpoint="latest", output_dir=None):
    """Samples `num_rows` rows (default: as many as the training rows) from a table run,
    scores them and writes the report and pictures.

    Returns:
        `(report, output_dir)`.

    Raises:
        UserError: not a table run, or bad arguments (nothing is written).
    """
    check_seed(seed)
    if num_rows is not None:
        check_positive_int("num_rows", num_rows)
    run = load_table_run(run_dir, checkpoint)
    output_dir = os.path.abspath(output_dir or run.evaluation_dir)
    num_rows = num_rows or len(run.train)
    started = time.perf_counter()
    synthetic = sample(run, num_rows, seed)
    sampling_seconds = time.perf_counter() - started
    report = evaluate_frames(run.train, run.holdout, synthetic, run.schema, seed=seed)
    report["seconds"]["sampling"] = round(sampling_seconds, 1)
    report.update(run_dir=os.path.abspath(run_dir), checkpoint=checkpoint, seed=seed,
                  target=run.schema.target)
    write_evaluation(report, run.train, synthetic, run.schema, output_dir)
    return _json_ready(report), output_dir
