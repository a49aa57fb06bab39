"""Do synthetic rows help a model of the table, more than ordinary oversampling does?

The image report's five-arm design (`gan_tf.downstream`) carried over to tables. The same
scikit-learn model, with the same seeds, is trained in each arm and tested on the real rows
the generator never trained on:

1. `real`: the real training rows;
2. `real_smote`: the same, oversampled by SMOTE (imbalanced-learn) until every class has as
   many rows as the largest (classification only);
3. `real_synthetic`: real and synthetic rows;
4. `real_smote_synthetic`: arm 2's rows and the synthetic rows (classification only);
5. `synthetic`: synthetic rows only.

The score is macro F1 for a categorical or boolean target (accuracy and each class's F1 are
reported too, and the minority class's F1 when the target is imbalanced) and R2 for a
numeric one. Every arm's difference from `real`, and the gain the verdict reads (arm 4 over
arm 2 for classes, arm 3 over arm 1 for numbers), come with a 95% paired bootstrap interval
over the test rows and the seeds together (`gan_tf.stats.paired_bootstrap`), which holds the
test set's own sampling error, not only the spread over seeds.

Rows are encoded once (`metrics.TableEncoder`, fitted on the real training rows), and SMOTE
works on that encoding, so it interpolates one-hot columns as it does numbers (the ordinary
use of SMOTE, not SMOTE-NC).

`downstream_report(real_train, real_test, synthetic, schema, target)` works on frames;
`run_downstream_report(run_dir)` samples a table run's rows and writes
`RUN/evaluation/downstream/report.json` and `downstream.png` (`evaluate --downstream`).
"""

import dataclasses
import json
import os
import time

import numpy as np

from gan_tf import stats
from gan_tf.errors import UserError, check_choice, check_positive_int, check_seed
from gan_tf.files import check_report_folder
from gan_tf.messages import get_logger
from gan_tf.tables import metrics

_logger = get_logger(__name__)

ARMS = ("real", "real_smote", "real_synthetic", "real_smote_synthetic", "synthetic")
REGRESSION_ARMS = ("real", "real_synthetic", "synthetic")
TITLES = {"real": "real", "real_smote": "real + SMOTE", "real_synthetic": "real + synthetic",
          "real_smote_synthetic": "real + SMOTE + synthetic", "synthetic": "synthetic only"}
MODELS = ("gradient_boosting", "random_forest", "logistic_regression")
IMBALANCED_SHARE = 0.2  # a target whose rarest class is below this share is imbalanced
FOLDER = "downstream"
REPORT_FILE = "report.json"
PLOT_FILE = "downstream.png"


@dataclasses.dataclass
class Options:
    """What a tables downstream report does.

    model: the scikit-learn model every arm trains: "gradient_boosting"
        (HistGradientBoosting), "random_forest" (100 trees) or "logistic_regression"
        (ridge regression for a numeric target).
    seeds: model seeds per arm (the same in every arm, so arms are paired).
    num_synthetic: synthetic rows to sample (None: as many as the real training rows).
    sample_seed: seed of the synthetic rows.
    repeats: bootstrap repeats of the intervals.
    checkpoint: the run's "latest" or "best" checkpoint (run reports only).
    """

    model: str = "gradient_boosting"
    seeds: int = 5
    num_synthetic: int = None
    sample_seed: int = 0
    repeats: int = stats.BOOTSTRAP_REPEATS
    checkpoint: str = "latest"

    def validate(self):
        check_choice("model", self.model, MODELS)
        check_positive_int("seeds", self.seeds)
        check_positive_int("repeats", self.repeats)
        if self.num_synthetic is not None:
            check_positive_int("num_synthetic", self.num_synthetic)
        check_seed(self.sample_seed, "sample_seed")
        check_choice("checkpoint", self.checkpoint, ("latest", "best"))


def make_model(name, task, seed):
    """A fresh unfitted scikit-learn model `name` for `task`, seeded."""
    from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.linear_model import LogisticRegression, Ridge

    classification = task == "classification"
    if name == "gradient_boosting":
        return (HistGradientBoostingClassifier if classification
                else HistGradientBoostingRegressor)(random_state=seed)
    if name == "random_forest":
        return (RandomForestClassifier if classification else RandomForestRegressor)(
            100, random_state=seed, n_jobs=1)
    return LogisticRegression(max_iter=1000, random_state=seed) if classification else Ridge()


def verdict(gain, task, scale_name):
    """One plain line from the paired gain the report reads (`stats.paired_bootstrap`)."""
    mean, low, high = gain["mean"], gain["ci_low"], gain["ci_high"]
    ordinary = "SMOTE oversampling" if task == "classification" else "the real rows alone"
    interval = f"(95% CI {low:+.3f} to {high:+.3f})"
    if low > 0:
        return f"synthetic rows add {mean:+.3f} {scale_name} over {ordinary} {interval}"
    if high < 0:
        return (f"synthetic rows do not help here: they cost {-mean:.3f} {scale_name} against "
                f"{ordinary} {interval}; use {ordinary}")
    return (f"synthetic rows do not help here: {mean:+.3f} {scale_name} over {ordinary} "
            f"{interval}, within the noise; use {ordinary}")


class _Codes:
    """Class labels (strings) as integers 0..k-1, in the real training rows' order."""

    def __init__(self, *label_arrays):
        self.names = []
        index = {}
        for labels in label_arrays:
            for label in labels:
                if label not in index:
                    index[label] = len(self.names)
                    self.names.append(label)
        self.index = index

    def __call__(self, labels):
        return np.array([self.index[label] for label in labels], np.int64)


def downstream_report(real_train, real_test, synthetic, schema=None, target=None,
                      options=None):
    """Trains and tests the arms on frames; returns the report (a JSON-ready dict).

    Args:
        real_train: the real rows the generator trained on.
        real_test: real rows it never saw (the test rows).
        synthetic: synthetic rows (all of them are used).
        schema: a `TableSchema` or `{column: kind}`; its `target` is used when `target` is
            None.
        target: the column to predict.
        options: `Options` (defaults when None; `num_synthetic`, `checkpoint` and
            `sample_seed` only matter to `run_downstream_report`).

    Raises:
        UserError: the frames cannot give a report.
    """
    options = options or Options()
    options.validate()
    started = time.perf_counter()
    features, target_kind, target = metrics.check_target(real_train, schema, target)
    for what, frame in (("held-out", real_test), ("synthetic", synthetic)):
        metrics.column_kinds(frame, {**features, target: target_kind})
    task = metrics.target_task(target_kind)
    encoder = metrics.TableEncoder(real_train, features)
    sets = {}
    for name, frame in (("real", real_train), ("test", real_test), ("synthetic", synthetic)):
        values, present = metrics.target_values(frame, target, task)
        if present.sum() < 2:
            raise UserError(f"The {name} rows have {int(present.sum())} value(s) in the target "
                            f"column {target!r}; a downstream report needs at least 2. Pass "
                            "more rows.")
        sets[name] = (encoder.transform(frame)[present], values[present])
    if task == "classification":
        codes = _Codes(sets["real"][1], sets["test"][1], sets["synthetic"][1])
        sets = {name: (x, codes(y)) for name, (x, y) in sets.items()}
        num_classes = len(codes.names)
        score = lambda truth, predicted: stats.macro_f1(truth, predicted, num_classes)  # noqa
        arms_run, metric, metric_title = ARMS, "macro_f1", "macro F1"
    else:
        codes, num_classes, score = None, 0, stats.r2
        arms_run, metric, metric_title = REGRESSION_ARMS, "r2", "R2"
    training = _arm_rows(sets, task, options, arms_run)
    test_x, test_y = sets["test"]
    predictions = {}
    total, done = len(arms_run) * options.seeds, 0
    for arm in arms_run:
        x, y = training[arm]
        predicted = []
        for seed in range(options.seeds):
            clock = time.perf_counter()
            predicted.append(_fit_predict(options.model, task, seed, x, y, test_x))
            done += 1
            _logger.info(f"[{done}/{total}] {TITLES[arm]}, seed {seed}: {metric_title} "
                         f"{score(test_y, predicted[-1]):.4f} "
                         f"({time.perf_counter() - clock:.1f} s)")
        predictions[arm] = np.stack(predicted)
    arms = {}
    for arm in arms_run:
        each = [score(test_y, p) for p in predictions[arm]]
        mean, std = stats.mean_and_std(each)
        arms[arm] = {"title": TITLES[arm], "rows": int(len(training[arm][1])), "mean": mean,
                     "std": std, "each": each}
        if task == "classification":
            arms[arm]["accuracy"] = float(np.mean([stats.accuracy(test_y, p)
                                                   for p in predictions[arm]]))
            arms[arm]["class_f1"] = dict(zip(codes.names, np.mean(
                [stats.class_f1(test_y, p, num_classes) for p in predictions[arm]],
                axis=0).tolist()))
        if arm != "real":
            arms[arm]["against_real"] = _short(stats.paired_bootstrap(
                score, test_y, predictions[arm], predictions["real"], options.repeats))
    treated, control = (("real_smote_synthetic", "real_smote") if task == "classification"
                        else ("real_synthetic", "real"))
    gain = stats.paired_bootstrap(score, test_y, predictions[treated], predictions[control],
                                  options.repeats)
    report = {
        "target": target, "task": task, "metric": metric, "metric_title": metric_title,
        "model": options.model, "seeds": list(range(options.seeds)),
        "real_train_rows": int(len(sets["real"][1])), "test_rows": int(len(test_y)),
        "synthetic_rows": int(len(sets["synthetic"][1])), "arms": arms,
        "gain": {"treated": treated, "control": control, **gain},
        "verdict": verdict(gain, task, metric_title),
    }
    if task == "classification":
        report.update(_minority(codes, sets, predictions, num_classes, options.repeats))
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _short(gain):
    return {key: gain[key] for key in ("mean", "ci_low", "ci_high", "std")}


def _arm_rows(sets, task, options, arms_run):
    """`{arm: (x, y)}`: the training rows of each arm."""
    real_x, real_y = sets["real"]
    synthetic_x, synthetic_y = sets["synthetic"]
    rows = {"real": (real_x, real_y), "synthetic": (synthetic_x, synthetic_y),
            "real_synthetic": (np.concatenate([real_x, synthetic_x]),
                               np.concatenate([real_y, synthetic_y]))}
    if task == "classification":
        smote_x, smote_y = smote(real_x, real_y, seed=options.sample_seed)
        rows["real_smote"] = (smote_x, smote_y)
        rows["real_smote_synthetic"] = (np.concatenate([smote_x, synthetic_x]),
                                        np.concatenate([smote_y, synthetic_y]))
    return {arm: rows[arm] for arm in arms_run}


def smote(x, y, seed=0):
    """SMOTE (Chawla et al., 2002, imbalanced-learn) of `(x, y)` until each class has as many
    rows as the largest; a class with a single row is repeated instead (SMOTE needs two)."""
    from imblearn.over_sampling import SMOTE

    counts = np.bincount(y)
    present = np.flatnonzero(counts)
    if present.size < 2:
        return x, y
    largest = counts.max()
    single = [c for c in present if counts[c] == 1]
    if single:  # repeat lone rows so SMOTE has neighbours (they interpolate onto themselves)
        x = np.concatenate([x] + [x[y == c] for c in single])
        y = np.concatenate([y] + [np.full(1, c) for c in single])
        counts = np.bincount(y)
    neighbours = int(min(5, counts[present].min() - 1))
    strategy = {int(c): int(largest) for c in present}
    return SMOTE(sampling_strategy=strategy, k_neighbors=neighbours,
                 random_state=seed).fit_resample(x, y)


def _fit_predict(name, task, seed, x, y, test_x):
    if task == "classification" and np.unique(y).size < 2:
        return np.full(len(test_x), y[0])
    with metrics.single_threaded():
        return make_model(name, task, seed).fit(x, y).predict(test_x)


def _minority(codes, sets, predictions, num_classes, repeats):
    """The minority class of the real training rows and, when it is rarer than
    `IMBALANCED_SHARE`, its F1 in every arm with the gain over `real`."""
    counts = np.bincount(sets["real"][1], minlength=num_classes)[:num_classes]
    observed = np.flatnonzero(counts)
    minority = int(observed[np.argmin(counts[observed])])
    share = float(counts[minority] / counts.sum())
    result = {"minority_class": codes.names[minority], "minority_share": share,
              "imbalanced": share < IMBALANCED_SHARE}
    if result["imbalanced"]:
        test_y = sets["test"][1]

        def minority_f1(truth, predicted):
            return float(stats.class_f1(truth, predicted, num_classes)[minority])

        result["minority_f1"] = {
            arm: {"mean": float(np.mean([minority_f1(test_y, p) for p in predicted])),
                  **({} if arm == "real" else {"against_real": _short(stats.paired_bootstrap(
                      minority_f1, test_y, predicted, predictions["real"], repeats))})}
            for arm, predicted in predictions.items()}
    return result


def summary_lines(report):
    """The report as printable lines: each arm, then the verdict."""
    lines = [f"{report['metric_title']} on {report['test_rows']} held-out rows, predicting "
             f"{report['target']!r} ({report['model']}, {len(report['seeds'])} seeds; "
             f"{report['real_train_rows']} real and {report['synthetic_rows']} synthetic "
             "training rows):"]
    for arm, result in report["arms"].items():
        line = f"  {result['title']:<26} {result['mean']:.4f} +- {result['std']:.4f}"
        gain = result.get("against_real")
        if gain:
            line += (f"   vs real {gain['mean']:+.4f} (95% CI {gain['ci_low']:+.4f} to "
                     f"{gain['ci_high']:+.4f})")
        lines.append(line)
    if report.get("imbalanced"):
        values = ", ".join(f"{report['arms'][arm]['title']} {value['mean']:.3f}"
                           for arm, value in report["minority_f1"].items())
        lines.append(f"Minority class {report['minority_class']!r} "
                     f"({100 * report['minority_share']:.1f}% of rows), F1: {values}.")
    lines.append("Verdict: " + report["verdict"] + ".")
    return lines


def write_report(report, output_dir):
    """report.json and downstream.png, moved into `output_dir` together (an earlier report
    there is replaced whole, never half)."""
    from gan_tf.files import replace_report_folder, staging_directory
    from gan_tf.tables import plots
    from gan_tf.tables.evaluate_lib import _json_ready

    with staging_directory(output_dir, "downstream") as staging:
        with open(os.path.join(staging, REPORT_FILE), "w", encoding="utf-8") as stream:
            json.dump(_json_ready(report), stream, indent=2)
            stream.write("\n")
        plots.plot_downstream(report, os.path.join(staging, PLOT_FILE))
        replace_report_folder(staging, output_dir, (REPORT_FILE, PLOT_FILE))


def run_downstream_report(run_dir, options=None, output_dir=None):
    """The downstream report of a table run: samples rows, trains the arms, writes the files.

    Args:
        run_dir: a table run trained with a target (`--target=COLUMN`).
        options: `Options`.
        output_dir: where to write (default `RUN/evaluation/downstream`).

    Returns:
        `(report, output_dir)`.
    """
    from gan_tf.tables import evaluate_lib

    options = options or Options()
    options.validate()
    run = evaluate_lib.load_table_run(run_dir, options.checkpoint)
    if run.schema.target is None:
        raise UserError(f"{run_dir} was trained without --target, so there is no column for "
                        "the downstream models to predict. Train the table run with "
                        "--target=COLUMN.")
    output_dir = os.path.abspath(output_dir or os.path.join(run.evaluation_dir, FOLDER))
    check_report_folder(output_dir, (REPORT_FILE, PLOT_FILE))  # before any work
    num_rows = options.num_synthetic or len(run.train)
    synthetic = evaluate_lib.sample(run, num_rows, options.sample_seed)
    _logger.info(f"Downstream report of {run_dir}: {len(run.train)} real training rows, "
                 f"{len(run.holdout)} held-out rows, {num_rows} synthetic rows; "
                 f"{options.seeds} seeds, model {options.model}.")
    report = downstream_report(run.train, run.holdout, synthetic, run.schema, options=options)
    report.update(run_dir=os.path.abspath(run_dir), checkpoint=options.checkpoint,
                  sample_seed=options.sample_seed)
    write_report(report, output_dir)
    return report, output_dir
