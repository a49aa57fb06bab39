r"""Filling holes in images: the GAN (convolutional GAIN) against the classical fills, with time.

    python benchmarks/imputation_images.py [--images=2000] [--seeds=3] \
        [--masks=pixels,square] [--methods=mean,knn,gan] [--iterations=2000] \
        [--json=PATH]

The embedded digits (the first `--images` of `embedded_mnist`, in [0, 1]); per seed, holes
are cut as `python -m gan_tf.impute` cuts them (`imputation.images.image_masks`: `pixels`,
20% of the pixels at random; `square`, a square of 40% of the side at a random place in each
image) and filled by

- `mean`: each pixel's mean over the images where it is observed (what `impute` reports
  beside the GAN);
- `knn`: scikit-learn's `KNNImputer` (5 neighbours, nan-Euclidean) on the flattened images;
- `mice`: scikit-learn's `IterativeImputer`, only with `--methods=...,mice`: on 784 columns
  it is slow (see `--mice_images`);
- `gan`: `training.train_imputer` with the convolutional networks, `--iterations` steps of
  `--batch_size` (the settings of docs/missing_values.md's example), `--drop_rate` (with
  square holes: the share of images given a square hole of the same size in each step),
  `--learning_rate`.

RMSE over the hidden pixels (0 perfect, 1 the whole range). Prints a Markdown table per mask
(mean over seeds with its 95% interval, seconds) and one JSON line. Numbers, not a timed
test: state the CPU beside the times.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("images", 2000, "the first N embedded digits")
flags.DEFINE_integer("seeds", 3, "masks (seeds 0..N-1)")
flags.DEFINE_list("masks", ["pixels", "square"], "hole kinds")
flags.DEFINE_float("missing_rate", 0.2, "share of pixels hidden with --masks=pixels")
flags.DEFINE_list("methods", ["mean", "knn", "gan"], "methods (mean, knn, mice, gan)")
flags.DEFINE_integer("iterations", 2000, "GAN training steps")
flags.DEFINE_integer("batch_size", 64, "GAN batch size")
flags.DEFINE_float("drop_rate", 0.0, "GAN drop rate (0 is the paper)")
flags.DEFINE_float("learning_rate", 1e-3, "GAN learning rate (1e-3 is the paper)")
flags.DEFINE_integer("mice_images", 300, "images given to MICE (it is slow on 784 columns)")
flags.DEFINE_string("json", "", "also write the results to this JSON file")


def fill(method, holed, mask, seed, kind):
    import numpy as np

    flat = holed.reshape(len(holed), -1)
    if method == "mean":
        from gan_tf.imputation.images import pixel_mean_fill

        return pixel_mean_fill(holed, mask)
    if method in ("knn", "mice"):
        from gan_tf.imputation import classical

        filled = classical.fill(method, flat, np.zeros(flat.shape[1], bool), seed=seed)
        return filled.reshape(holed.shape)
    from gan_tf.imputation import training
    from gan_tf.imputation.images import SQUARE_SIDE

    imputer = training.train_imputer(holed, mask, seed=seed,
                                     iterations=flags.FLAGS.iterations,
                                     batch_size=flags.FLAGS.batch_size,
                                     drop_rate=flags.FLAGS.drop_rate,
                                     drop_square=SQUARE_SIDE if kind == "square" else 0.0,
                                     learning_rate=flags.FLAGS.learning_rate)
    return imputer.impute(holed, mask, seed=seed, batch_size=256)


def main(argv):
    del argv
    import numpy as np

    from gan_tf import data as data_lib
    from gan_tf import hardware
    from gan_tf.imputation import compare
    from gan_tf.imputation.images import image_masks

    print(f"CPU: {hardware.describe_cpu() if hasattr(hardware, 'describe_cpu') else ''}; "
          f"{os.cpu_count()} cores", flush=True)
    data = data_lib.load_images("embedded_mnist", max_examples=flags.FLAGS.images, seed=0,
                                cache="memory")
    every = np.asarray(data.images, np.float32) / 255.0
    results = {}
    for kind in flags.FLAGS.masks:
        scores = {m: {"rmse": [], "seconds": []} for m in flags.FLAGS.methods}
        for seed in range(flags.FLAGS.seeds):
            for method in flags.FLAGS.methods:
                true = every[:flags.FLAGS.mice_images] if method == "mice" else every
                mask = image_masks(true.shape, kind, flags.FLAGS.missing_rate, seed)
                holed = np.where(mask > 0, true, np.nan).astype(np.float32)
                start = time.perf_counter()
                filled = fill(method, holed, mask, seed, kind)
                seconds = time.perf_counter() - start
                hidden = mask == 0
                rmse = float(np.sqrt(np.mean((filled[hidden] - true[hidden]) ** 2)))
                scores[method]["rmse"].append(rmse)
                scores[method]["seconds"].append(seconds)
                print(f"{kind} seed {seed} {method}: RMSE {rmse:.4f} in {seconds:.1f} s",
                      flush=True)
        results[kind] = {}
        print(f"\n## {kind} holes, {len(every)} digits, {flags.FLAGS.seeds} seeds\n")
        print("| method | RMSE (95% CI) | seconds |\n| --- | --- | --- |")
        for method, values in scores.items():
            summary = compare.summary(values["rmse"])
            results[kind][method] = {"rmse": summary,
                                     "seconds": float(np.mean(values["seconds"]))}
            interval = ("" if summary["low"] is None
                        else f" ({summary['low']:.4f} to {summary['high']:.4f})")
            print(f"| {method} | {summary['mean']:.4f}{interval} | "
                  f"{np.mean(values['seconds']):.1f} |", flush=True)
    print(json.dumps(results))
    if flags.FLAGS.json:
        from gan_tf.files import atomic_write_text

        atomic_write_text(flags.FLAGS.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    app.run(main)
