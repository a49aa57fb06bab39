r"""GAIN's protocol on Breast, Spam and Letter: every imputer side by side, with time.

    python benchmarks/imputation.py [--tables=breast,spam,letter] [--seeds=10] \
        [--data_dir=../shared/data] [--methods=mean,knn,mice,forest,gan] \
        [--iterations=10000] [--validate]

The paper's protocol (Yoon et al. 2018): each table complete, 20% of its entries hidden
completely at random (one mask per seed), every column min-max scaled, RMSE over the hidden
entries only. Breast is scikit-learn's `load_breast_cancer` (569 x 30); Spam (4,601 x 57)
and Letter (20,000 x 16) are the files GAIN's authors prepared, read from `--data_dir`
(default `../shared/data` beside the repository). Every column is treated as a number, as
the paper does. The figures come from `gan_tf.imputation.compare` (the code behind
`impute --compare`), so the benchmark scores exactly what users get.

With `--validate`, the GAN's settings are first chosen on a *validation* mask (seed 1000,
never a reported one) among `--variants` (`default` is the paper's; `dropR` hides a further
share R of the observed entries from G in each step and scores them, `GainImputer`'s
`drop_rate`; `alpha10`; `hint0.5`; `wide`, hidden layers twice the table's width;
`steps20k`, twice the steps; `drop0.2_wide`, `drop0.2_w8`, `drop0.2_w16`, drop 0.2 with
hidden layers 2, 8 or 16 times the table's width; `drop0.5_w16`), and the table's methods are then run
with the chosen one.

Prints a Markdown table per table and one JSON line with every figure. Numbers, not a timed
test: on a shared CPU, say so beside the times.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_list("tables", ["breast", "spam", "letter"], "tables to run")
flags.DEFINE_integer("seeds", 10, "masks (seeds first_seed..first_seed+N-1) per table")
flags.DEFINE_integer("first_seed", 0, "seed of the first mask (to add seeds to a run)")
flags.DEFINE_string("data_dir", os.path.join(REPO, "..", "shared", "data"),
                    "folder of spam.csv and letter.csv")
flags.DEFINE_list("methods", ["mean", "knn", "mice", "forest", "gan"], "methods")
flags.DEFINE_integer("iterations", 10000, "GAN training steps")
flags.DEFINE_float("rate", 0.2, "share of entries hidden")
flags.DEFINE_boolean("validate", False, "choose GAN settings on a validation mask first")
flags.DEFINE_list("variants", ["default", "drop0.2", "drop0.5", "alpha10", "wide",
                                "steps20k"],
                  "GAN settings tried with --validate")
flags.DEFINE_string("gan_variant", "default", "the GAN's settings without --validate (e.g. "
                    "the one chosen on another table's validation mask)")
flags.DEFINE_string("json", "", "also write the results to this JSON file")

PUBLISHED_GAIN = {"breast": 0.0546, "spam": 0.0513, "letter": 0.1198}


def load(name, data_dir):
    import pandas as pd

    if name == "breast":
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer(as_frame=True).data
    path = os.path.join(data_dir, f"{name}.csv")
    if not os.path.exists(path):
        sys.exit(f"error: {path} not found; pass --data_dir=FOLDER holding {name}.csv")
    return pd.read_csv(path)


def variant_settings(name, iterations):
    settings = {"default": {}, "alpha10": {"alpha": 10.0}, "hint0.5": {"hint_rate": 0.5},
                "wide": {"width_multiple": 2}, "steps20k": {"iterations": 2 * iterations},
                "drop0.2": {"drop_rate": 0.2}, "drop0.5": {"drop_rate": 0.5},
                "drop0.2_wide": {"drop_rate": 0.2, "width_multiple": 2},
                "drop0.2_w8": {"drop_rate": 0.2, "width_multiple": 8},
                "drop0.2_w16": {"drop_rate": 0.2, "width_multiple": 16},
                "drop0.5_w16": {"drop_rate": 0.5, "width_multiple": 16}}
    if name not in settings:
        sys.exit(f"error: unknown variant {name!r}; expected one of {', '.join(settings)}")
    values = {"iterations": iterations, **settings[name]}
    return values


def run_table(name, frame, methods, seeds, iterations, rate, gan_settings, first_seed=0):
    from gan_tf.imputation import compare
    from gan_tf.tables.schema import infer_schema

    kinds = {column: "continuous" for column in frame.columns}
    schema = infer_schema(frame.astype("float64"), kinds=kinds)
    start = time.perf_counter()
    report = compare.compare(frame.astype("float64"), schema, methods=methods, rate=rate,
                             mechanism="mcar", repeats=seeds, seed=first_seed,
                             gan=gan_settings)
    report["wall_seconds"] = time.perf_counter() - start
    return report


def gan_settings(values, width):
    """`GanSettings` of a variant; `width_multiple` k gives hidden layers k x the table's
    width."""
    from gan_tf.imputation.fill import GanSettings

    values = dict(values)
    multiple = values.pop("width_multiple", None)
    if multiple:
        values["hidden_units"] = multiple * width
    return GanSettings(**values)


def main(argv):
    del argv
    import logging

    logging.getLogger("gan_tf").setLevel(logging.INFO)  # one line per method and repeat
    from gan_tf import hardware
    from gan_tf.imputation import compare

    cpu = hardware.describe_cpu() if hasattr(hardware, "describe_cpu") else ""
    print(f"CPU: {cpu}; {os.cpu_count()} cores")
    results = {}
    for name in flags.FLAGS.tables:
        frame = load(name, flags.FLAGS.data_dir)
        chosen = flags.FLAGS.gan_variant
        validation = {}
        if flags.FLAGS.validate and "gan" in flags.FLAGS.methods:
            from gan_tf.tables.schema import infer_schema

            schema = infer_schema(frame.astype("float64"),
                                  kinds={c: "continuous" for c in frame.columns})
            for variant in flags.FLAGS.variants:
                settings = gan_settings(variant_settings(variant, flags.FLAGS.iterations),
                                        frame.shape[1])
                report = compare.compare(frame.astype("float64"), schema, methods=("gan",),
                                         rate=flags.FLAGS.rate, repeats=1, seed=1000,
                                         gan=settings)
                validation[variant] = report["methods"]["gan"]["rmse"]["mean"]
                print(f"{name} validation mask (seed 1000), GAN {variant}: RMSE "
                      f"{validation[variant]:.4f}", flush=True)
            chosen = min(validation, key=validation.get)
        settings = gan_settings(variant_settings(chosen, flags.FLAGS.iterations), frame.shape[1])
        report = run_table(name, frame, flags.FLAGS.methods, flags.FLAGS.seeds,
                           flags.FLAGS.iterations, flags.FLAGS.rate, settings,
                           first_seed=flags.FLAGS.first_seed)
        report["gan_variant"] = chosen
        report["validation"] = validation
        report["published_gain"] = PUBLISHED_GAIN[name]
        results[name] = report
        print(f"\n## {name} ({frame.shape[0]} x {frame.shape[1]}), GAN settings: {chosen}; "
              f"published GAIN RMSE {PUBLISHED_GAIN[name]}")
        print(compare.format_report(report), flush=True)
        print(f"wall time {report['wall_seconds']:.0f} s", flush=True)
    print(json.dumps(results, default=float))
    if flags.FLAGS.json:
        from gan_tf.files import atomic_write_text

        atomic_write_text(flags.FLAGS.json, json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    app.run(main)
