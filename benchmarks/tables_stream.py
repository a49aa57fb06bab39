r"""A table run on a large table: streamed from disk against read whole, side by side.

    python benchmarks/tables_stream.py --rows=1000000 --epochs=1 \
        --output_dir=/tmp/tables_stream [--modes=memory,stream] [--chunk_rows=100000]

Makes a table of `--rows` rows by resampling statsmodels' fair (6,366 rows, seeded; target
had_affair = affairs > 0), writes it as CSV, and trains one gan_tf table run on it per mode,
each in a process of its own: `memory` reads the whole table (the default), `stream` reads it
`--chunk_rows` rows at a time (`--stream_chunk_rows`) and trains from the transformed rows on
disk. For each it prints the wall time of the whole train call (reading, schema, mixtures,
transforming, training), the training rows per second, the process's peak resident memory,
and SDMetrics' quality score of 5,000 generated rows against 5,000 training rows of the
run's own sample. Not a timed test.
"""

import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("rows", 1_000_000, "rows of the resampled table")
flags.DEFINE_list("modes", ["memory", "stream"], "memory | stream")
flags.DEFINE_integer("chunk_rows", 100_000, "--stream_chunk_rows of the streamed run")
flags.DEFINE_integer("epochs", 1, "epochs of each run")
flags.DEFINE_integer("seed", 0, "seed of the resampling and of the runs")
flags.DEFINE_string("output_dir", "/tmp/gan_tf_tables_stream", "the table, runs and results")
flags.DEFINE_string("run_one", None, "internal: train this mode in this process")
FLAGS = flags.FLAGS


def make_table(path, rows, seed):
    import numpy as np
    import statsmodels.api as sm

    if os.path.exists(path):
        return
    frame = sm.datasets.fair.load_pandas().data
    frame["had_affair"] = frame.pop("affairs") > 0
    rng = np.random.default_rng(seed)
    frame.iloc[rng.integers(0, len(frame), rows)].to_csv(path + ".part", index=False)
    os.replace(path + ".part", path)


def run_one(mode, table, run_dir):
    """Trains one run in this process and prints its figures as one JSON line."""
    from gan_tf.tables import metrics, sampling, train_lib
    from gan_tf.tables import data as data_lib
    from gan_tf.tables.config import TableConfig

    config = TableConfig(dataset=f"csv:{table}", target="had_affair", epochs=FLAGS.epochs,
                         seed=FLAGS.seed, output_dir=run_dir,
                         stream_chunk_rows=FLAGS.chunk_rows if mode == "stream" else 0)
    started = time.perf_counter()
    result = train_lib.train(config, verbose=0)
    seconds = time.perf_counter() - started
    train, _ = data_lib.read_run_splits(run_dir)
    real = train.sample(n=min(5000, len(train)), random_state=FLAGS.seed)
    synthetic = sampling.sample_rows(run_dir, 5000, seed=1)
    schema = data_lib.read_schema(run_dir)
    quality = metrics.quality_report(real, synthetic, schema)["score"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "fit_seconds": result.seconds,
                      "rows_per_second": result.rows_per_second,
                      "transformer_seconds": result.transformer_seconds,
                      "peak_rss_mb": peak_mb, "quality": quality}), flush=True)


def main(argv):
    del argv
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    table = os.path.join(FLAGS.output_dir, f"fair_{FLAGS.rows}.csv")
    if FLAGS.run_one:
        run_one(FLAGS.run_one, table, os.path.join(FLAGS.output_dir, f"run_{FLAGS.run_one}"))
        return
    make_table(table, FLAGS.rows, FLAGS.seed)
    print(f"{table}: {FLAGS.rows} rows, {os.path.getsize(table) / 1e6:.0f} MB; "
          f"{os.cpu_count()} cores", flush=True)
    results = []
    for mode in FLAGS.modes:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), f"--run_one={mode}",
             f"--rows={FLAGS.rows}", f"--chunk_rows={FLAGS.chunk_rows}",
             f"--epochs={FLAGS.epochs}", f"--seed={FLAGS.seed}",
             f"--output_dir={FLAGS.output_dir}"], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = results[-1]
        print(f"{mode:7s} train call {row['seconds']:7.1f} s (fit {row['fit_seconds']:.1f} s, "
              f"{row['rows_per_second']:.0f} rows/s), peak RSS {row['peak_rss_mb']:.0f} MB, "
              f"quality {row['quality']:.3f}", flush=True)
    with open(os.path.join(FLAGS.output_dir, "RESULTS.json"), "w") as stream:
        json.dump({"rows": FLAGS.rows, "chunk_rows": FLAGS.chunk_rows,
                   "epochs": FLAGS.epochs, "results": results}, stream, indent=2)


if __name__ == "__main__":
    app.run(main)
