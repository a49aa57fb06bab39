r"""Recipes side by side in one process: sample quality against training FLOPs and wall time.

    python benchmarks/compare_defaults.py --output_dir=/tmp/compare

Trains each variant of `--variants` (a JSON object: name -> TrainConfig overrides; default:
the default run as it is now against the unconditional recipe it replaced) one after the
other in this process, then judges 2,000 samples of each exactly as
`benchmarks/default_run.py` does (a small CNN trained on 4,000 real digits; confident =
p >= 0.9; for conditional runs also the class asked for). For each it reports the training
FLOPs (forward multiply-adds of G and D x 2, a backward pass counted as two forward passes,
per `benchmarks/throughput.py`, times the images trained on), the fit wall time and images/s.
Prints one JSON line per variant, then a table. Not a timed test.
"""

import json
import os
import sys
import time

from absl import app, flags

import default_run  # noqa: F401  (defines --output_dir, --num_samples; its judge is reused)
from gan_tf.config import TrainConfig

flags.DEFINE_string("variants", json.dumps({
    "default (conditional on labelled data)": {},
    "unconditional (the default before)": {"conditional": False},
}), "JSON object: variant name -> TrainConfig overrides")
FLAGS = flags.FLAGS


def training_flops(run_dir, images_trained):
    """Training FLOPs of a run: per-image step FLOPs of its G and D times the images."""
    import keras

    from gan_tf import runs
    from throughput import forward_flops, step_flops

    gan, config, _ = runs.load_run(run_dir)
    extra = 0  # label embeddings: the projection's dot product in D, G's embedding lookup
    for model in (gan.generator, gan.discriminator):
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.Embedding):
                extra += 2 * layer.output_dim
    per_image = step_flops(forward_flops(gan.generator), forward_flops(gan.discriminator),
                           config.update == "simultaneous")
    per_image += 4 * extra  # counted like the networks: forward + backward, both steps
    return per_image * images_trained * config.discriminator_steps, per_image


def main(argv):
    del argv
    from gan_tf import data, runs, train_lib

    digits = data.load_embedded_mnist()
    rows, drawn = [], []
    for name, overrides in json.loads(FLAGS.variants).items():
        slug = "".join(c if c.isalnum() else "_" for c in name)[:40]
        run_dir = os.path.join(FLAGS.output_dir, slug)
        config = TrainConfig(**{**overrides, "output_dir": run_dir})
        started = time.perf_counter()
        result = train_lib.train(config, verbose=0)
        total = time.perf_counter() - started
        config, facts = runs.read_run_config(run_dir)  # as resolved (conditional or not)
        # The images the GAN trained on (after --max_examples and --holdout), whole batches.
        images_trained = (facts["num_examples"] // config.batch_size * config.batch_size
                          * config.epochs)
        flops, per_image = training_flops(run_dir, images_trained)
        drawn.append(default_run.export_samples(result.export_path, config.conditional,
                                                FLAGS.num_samples))
        rows.append({"variant": name, "overrides": overrides,
                     "conditional": config.conditional,
                     "training_tflops": round(flops / 1e12, 2),
                     "step_mflops_per_image": round(per_image / 1e6, 2),
                     "fit_seconds": round(result.seconds, 1),
                     "total_seconds": round(total, 1),
                     "images_per_second": round(result.images_per_second)})
    # The judge trains after the runs: TensorFlow must not run before the first training in
    # this process, or it keeps several inter-op threads and the runs are no longer
    # bit-identical to the same configs trained by `python -m gan_tf.train`.
    classifier, accuracy = default_run.train_digit_classifier(digits.images, digits.labels)
    for row, (samples, requested) in zip(rows, drawn):
        row.update(judge_accuracy=round(accuracy, 4),
                   **default_run.judge(classifier, samples, requested))
        print(json.dumps(row))
        sys.stdout.flush()
    print("| variant | confident (p >= 0.9) | classes | class asked for | training TFLOPs | "
          "fit s | images/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['variant']} | {row['confident_fraction']:.1%} | "
              f"{row['classes_with_5pct_of_confident']} | "
              f"{row.get('requested_class_accuracy', float('nan')):.1%} | "
              f"{row['training_tflops']} | {row['fit_seconds']} | {row['images_per_second']} |")


if __name__ == "__main__":
    app.run(main)
