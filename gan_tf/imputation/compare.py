"""Is the GAN fill worth it on this table? Every imputer scored on entries hidden on purpose.

Each repeat hides a further share of the table's *observed* entries (`masks.hide`: MCAR,
MAR or MNAR, seeded by `seed + repeat`), fills the table with every method, and scores the
fills of the hidden entries against their true values:

- `rmse`: over every hidden numeric entry, in the column's min-max scale (the GAIN paper's
  measure: 0 is perfect, the range of a column is 1);
- `accuracy`: the share of hidden categorical entries given their true category;
- `seconds`: the wall time of the fill (training included).

Each figure is the mean over the repeats with its 95% Student-t interval. The verdict names
the best method (lowest RMSE; highest accuracy on a table with no numeric column) and, from
paired differences over the same repeats, which others it beats beyond the noise.

With a `target` column, the target is left out of the imputers' input and a downstream check
runs in each repeat: half of the table's complete rows (drawn per repeat) are set aside and
never hidden; a random forest classifier is trained on the other rows as each method filled
them and tested on the set-aside rows. Fewer than 4 complete rows: no downstream figure.
"""

import math
import time

import numpy as np

from gan_tf import messages, stats
from gan_tf.errors import UserError
from gan_tf.imputation import fill as fill_lib
from gan_tf.imputation import masks
from gan_tf.imputation.tabular import TableCodec
from gan_tf.tables.schema import column_values_as_strings

METHODS = ("mean", "knn", "mice", "forest", "gan")
LABELS = {"mean": "mean/mode", "knn": "KNN (5)", "mice": "MICE (IterativeImputer)",
          "forest": "random-forest iterative", "gan": "GAN (GAIN)"}

_logger = messages.get_logger(__name__)


def compare(frame, schema, methods=METHODS, rate=0.2, mechanism="mcar", repeats=3, seed=0,
            gan=fill_lib.GanSettings(), target=None):
    """Scores each method on entries hidden from `frame`; returns the report (a dict).

    Args:
        frame: the table (pandas DataFrame), with or without holes of its own.
        schema: its `TableSchema`.
        methods: the methods to compare, from `METHODS`.
        rate: the share of observed entries hidden in each repeat.
        mechanism: "mcar", "mar" or "mnar" (`masks`).
        repeats: the number of repeats (each with its own hidden entries).
        seed: seed of the first repeat (repeat r uses seed + r).
        gan: the GAN's `GanSettings`.
        target: a categorical column for the downstream check, or None.

    Returns:
        `{"methods": {name: {"rmse": summary, "accuracy": summary, "seconds": summary,
        "downstream": summary}}, "best": name, "verdict": text, ...}`, each summary
        `{"mean", "low", "high", "each"}` (None where the table has no such entries).
    """
    if target:
        column = schema.column(target)
        if not column.discrete:
            raise UserError(f"--target={target} is a {column.kind} column; the downstream "
                            "check trains a classifier. Give a categorical or boolean column.")
        labels = np.array(column_values_as_strings(frame[target]), dtype=object)
        frame = frame.drop(columns=[target])
        schema = type(schema)(columns=tuple(c for c in schema.columns if c.name != target))
    codec = TableCodec(schema)
    observed = codec.observed(frame)
    if observed.sum() < 2:
        raise UserError("The table has too few observed entries to hide some and score the "
                        "fills. Give a table with more values.")
    codes = codec.to_codes(frame)
    numeric = ~codec.categorical
    results = {name: {"rmse": [], "accuracy": [], "seconds": [], "downstream": []}
               for name in methods}
    for repeat in range(repeats):
        hidden = masks.hide(codes, observed, rate, mechanism, seed=seed + repeat)
        test_rows = None
        if target:
            # The downstream test rows: half of the complete rows, never hidden or filled.
            complete = np.flatnonzero(observed.all(axis=1))
            test_rows = np.random.default_rng(seed + repeat).permutation(complete)[
                :len(complete) // 2]
            hidden[test_rows] = False
        if not hidden.any():
            raise UserError(f"--hide_rate={rate} hid no entry of this table. Give a larger "
                            "--hide_rate or a larger table.")
        holed = frame.copy()
        for index in range(len(codec.columns)):
            rows = np.flatnonzero(hidden[:, index])
            if rows.size:
                holed[holed.columns[index]] = holed[holed.columns[index]].astype(object)
                holed.iloc[rows, index] = np.nan
        holed = _restore_dtypes(holed, frame)
        for name in methods:
            start = time.perf_counter()
            fills, _ = fill_lib.fill_decoded(name, codec, holed, seed=seed + repeat, gan=gan)
            seconds = time.perf_counter() - start
            decoded = fills[0]
            errors, hits, count = [], 0, 0
            for index, column in enumerate(codec.columns):
                rows = np.flatnonzero(hidden[:, index])
                if not rows.size:
                    continue
                if column.discrete:
                    truth = [column.categories[int(round(c * max(len(column.categories) - 1,
                                                                  1)))]
                             for c in codes[rows, index]]
                    hits += sum(decoded[index][r] == t for r, t in zip(rows, truth))
                    count += rows.size
                else:
                    low, span = codec._span(column)
                    guess = (np.asarray(decoded[index], np.float64)[rows] - low) / span
                    errors.append(guess - codes[rows, index])
            results[name]["rmse"].append(
                float(np.sqrt(np.mean(np.square(np.concatenate(errors))))) if errors else None)
            results[name]["accuracy"].append(hits / count if count else None)
            results[name]["seconds"].append(seconds)
            if target:
                filled = codec.fill_frame(holed, decoded)
                results[name]["downstream"].append(_downstream(
                    codec, filled, labels, test_rows, seed + repeat))
            _logger.info(f"repeat {repeat + 1}/{repeats} {LABELS[name]}: "
                         f"{_line(results[name], repeat)}")
    report = {"rate": rate, "mechanism": mechanism, "repeats": repeats, "seed": seed,
              "target": target or None, "rows": len(frame),
              "numeric_columns": int(numeric.sum()),
              "categorical_columns": int((~numeric).sum()),
              "methods": {name: {key: summary(values) for key, values in scores.items()}
                          for name, scores in results.items()}}
    report["best"], report["verdict"] = _verdict(report, results)
    return report


def _restore_dtypes(holed, frame):
    """Columns made `object` to take NaN, back to a numeric dtype where they were numeric."""
    import pandas as pd

    for name in holed.columns:
        if pd.api.types.is_numeric_dtype(frame[name].dtype) and not pd.api.types.is_bool_dtype(
                frame[name].dtype):
            holed[name] = pd.to_numeric(holed[name], errors="coerce")
    return holed


def _downstream(codec, filled, labels, test, seed):
    """Accuracy on the `test` rows of a forest trained on every other row of `filled`."""
    from sklearn.ensemble import RandomForestClassifier

    # Rows whose label is missing can neither teach nor test the classifier.
    labelled = np.array([label is not None for label in labels], dtype=bool)
    test = test[labelled[test]]
    if len(test) < 2:
        return None
    train = np.setdiff1d(np.flatnonzero(labelled), test)
    features = np.nan_to_num(codec.to_codes(filled))
    model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    model.fit(features[train], labels[train])
    return float(np.mean(model.predict(features[test]) == labels[test]))


def summary(values):
    """`{"mean", "low", "high", "each"}`: the mean of `values` (None dropped) with its 95%
    Student-t interval (None for one value); None for no value."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean, std = stats.mean_and_std(values)
    half = (stats.t_quantile_975(len(values) - 1) * std / math.sqrt(len(values))
            if len(values) > 1 else None)
    return {"mean": mean, "low": None if half is None else mean - half,
            "high": None if half is None else mean + half, "each": list(values)}


def _line(scores, repeat):
    parts = []
    if scores["rmse"][repeat] is not None:
        parts.append(f"RMSE {scores['rmse'][repeat]:.4f}")
    if scores["accuracy"][repeat] is not None:
        parts.append(f"accuracy {scores['accuracy'][repeat]:.3f}")
    if scores["downstream"] and scores["downstream"][repeat] is not None:
        parts.append(f"downstream accuracy {scores['downstream'][repeat]:.3f}")
    parts.append(f"{scores['seconds'][repeat]:.1f} s")
    return ", ".join(parts)


def _verdict(report, results):
    """The best method's name and a sentence: lowest RMSE, else highest accuracy."""
    summaries = report["methods"]
    key, lower = ("rmse", True) if report["numeric_columns"] else ("accuracy", False)
    scored = [name for name in summaries if summaries[name][key] is not None]
    if not scored:
        return None, "No hidden entry could be scored."
    ordered = sorted(scored, key=lambda n: summaries[n][key]["mean"] * (1 if lower else -1))
    best = ordered[0]
    beaten, tied = [], []
    for other in ordered[1:]:
        if len(results[best][key]) > 1:
            difference = stats.paired_difference(results[other][key], results[best][key])
            low, high = difference["ci_low"], difference["ci_high"]
            clear = low > 0 if lower else high < 0
        else:
            clear = False
        (beaten if clear else tied).append(LABELS[other])
    measure = "RMSE" if lower else "accuracy"
    text = (f"Best by {measure} on the hidden entries: {LABELS[best]} "
            f"({summaries[best][key]['mean']:.4f}).")
    if beaten:
        text += f" It beats {', '.join(beaten)} beyond the noise of {report['repeats']} repeats."
    if tied and report["repeats"] == 1:
        text += " One repeat gives no interval: run --repeats=3 or more to tell them apart."
    elif tied:
        text += (f" {', '.join(tied)} cannot be told apart from it with "
                 f"{report['repeats']} repeats (95% paired interval includes 0).")
    return best, text


def format_report(report):
    """The report as a Markdown table and the verdict."""
    has = {key: any(report["methods"][n][key] for n in report["methods"])
           for key in ("rmse", "accuracy", "downstream")}
    header = ["method"]
    if has["rmse"]:
        header.append("RMSE (min-max scale) [95% CI]")
    if has["accuracy"]:
        header.append("accuracy (categories) [95% CI]")
    if has["downstream"]:
        header.append(f"downstream accuracy ({report['target']}) [95% CI]")
    header.append("seconds per fill")
    lines = [f"{report['repeats']} repeats, {report['rate']:.0%} of the observed entries "
             f"hidden ({report['mechanism'].upper()}), seed {report['seed']}, "
             f"{report['rows']} rows.", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, summary in report["methods"].items():
        cells = [LABELS[name]]
        for key in ("rmse", "accuracy", "downstream"):
            if has[key]:
                cells.append(_cell(summary[key]))
        cells.append(f"{summary['seconds']['mean']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", report["verdict"]]
    return "\n".join(lines)


def _cell(summary):
    if summary is None:
        return "-"
    if summary["low"] is None:
        return f"{summary['mean']:.4f}"
    return f"{summary['mean']:.4f} [{summary['low']:.4f}, {summary['high']:.4f}]"
