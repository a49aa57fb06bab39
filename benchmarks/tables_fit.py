r"""Measures a trained table run, and the cost of fitting the mixtures.

    python benchmarks/tables_fit.py --run=runs/fair-ctgan
    python benchmarks/tables_fit.py --mixtures --table=fair.csv --rows=1000000

--run: the run's fit times (mixtures, training) from its files, SDMetrics' quality score
(column shapes and pair trends) of as many synthetic rows as it trained on against its
training rows, and machine-learning efficacy on its held-out rows: two scikit-learn
classifiers (logistic regression, random forest) trained on real or on synthetic rows, F1 of
the positive (minority) class and accuracy, and their ratio. It prints numbers; it times
nothing in the test suite.

--mixtures: the time to fit the transformer (one Bayesian Gaussian mixture per numeric
column) on a table resampled to --rows rows, with gan_tf's bounded sample (10,000 rows) and,
up to --full_limit rows, on every row as CTGAN does.
"""

import argparse
import json
import os
import time

import numpy as np
import pandas as pd


def efficacy(train, holdout, synthetic, target, seed=0):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = [c for c in train.columns if c != target]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])
               and not pd.api.types.is_bool_dtype(train[c])]
    other = [c for c in features if c not in numeric]
    labels = train[target].astype(str)
    minority = labels.value_counts().idxmin()

    def prepare():
        return ColumnTransformer([
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("categories", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                         OneHotEncoder(handle_unknown="ignore")), other)])

    results = {}
    for name, model in (("logistic_regression", LogisticRegression(max_iter=2000)),
                        ("random_forest", RandomForestClassifier(200, random_state=seed))):
        scores = {}
        for source, frame in (("real", train), ("synthetic", synthetic)):
            pipeline = make_pipeline(prepare(), model)
            pipeline.fit(frame[features].astype({c: str for c in other}),
                         frame[target].astype(str))
            predicted = pipeline.predict(holdout[features].astype({c: str for c in other}))
            truth = holdout[target].astype(str)
            scores[source] = {"f1": f1_score(truth, predicted, pos_label=minority),
                              "accuracy": accuracy_score(truth, predicted)}
        scores["f1_ratio"] = scores["synthetic"]["f1"] / max(scores["real"]["f1"], 1e-12)
        scores["accuracy_ratio"] = (scores["synthetic"]["accuracy"]
                                    / scores["real"]["accuracy"])
        results[name] = scores
    return results


def measure_run(run_dir, seed):
    from sdmetrics.reports.single_table import QualityReport

    from gan_tf.tables import data as data_lib
    from gan_tf.tables.sampling import sample_rows

    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as stream:
        record = json.load(stream)
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as stream:
        epochs = [json.loads(line) for line in stream]
    train, holdout = data_lib.read_run_splits(run_dir)
    schema = data_lib.read_schema(run_dir)
    started = time.perf_counter()
    synthetic = sample_rows(run_dir, len(train), seed=seed)
    sample_seconds = time.perf_counter() - started
    metadata = {"columns": {c.name: {"sdtype": "numerical" if c.kind in ("continuous",
                                                                          "integer")
                                     else "categorical"} for c in schema.columns}}
    report = QualityReport()
    report.generate(train, synthetic, metadata, verbose=False)
    properties = report.get_properties()
    result = {
        "table": record["table"],
        "epochs": len(epochs),
        "train_seconds": sum(line["time"] for line in epochs),
        "sample_seconds": sample_seconds,
        "quality": report.get_score(),
        "properties": dict(zip(properties["Property"], properties["Score"])),
        "exact_copies": int(synthetic.merge(train.drop_duplicates(), how="inner").shape[0]),
    }
    if schema.target:
        result["efficacy"] = efficacy(train, holdout, synthetic, schema.target, seed)
    return result


def measure_mixtures(table, rows, full_limit, seed):
    from gan_tf.tables.schema import infer_schema, read_table
    from gan_tf.tables.transformer import TableTransformer

    frame = read_table(table)
    big = frame.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    schema = infer_schema(big)
    result = {"rows": rows, "numeric_columns": sum(not c.discrete for c in schema.columns)}
    bounded = TableTransformer(schema).fit(big, seed=seed)
    result["bounded_sample_seconds"] = bounded.fit_seconds
    started = time.perf_counter()
    bounded.transform(big, seed=seed)
    result["transform_seconds"] = time.perf_counter() - started
    if rows <= full_limit:
        full = TableTransformer(schema, fit_rows=rows).fit(big, seed=seed)
        result["every_row_seconds"] = full.fit_seconds
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run")
    parser.add_argument("--mixtures", action="store_true")
    parser.add_argument("--table")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--full_limit", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(measure_run(args.run, args.seed), indent=2))
    if args.mixtures:
        print(json.dumps(measure_mixtures(args.table, args.rows, args.full_limit, args.seed),
                         indent=2))


if __name__ == "__main__":
    main()
