r"""Benchmark of the default run: wall time, images/s, and which digits the samples show.

    python benchmarks/default_run.py --output_dir=/tmp/bench [--architecture=mlp ...]

Trains `TrainConfig` with the given overrides (defaults: the default 50-epoch run), then
judges 2,000 samples with a small CNN digit classifier trained here on 4,000 of the embedded
real digits (its accuracy on the other 1,000 is printed beside the verdict): the per-class
histogram, how many samples it classifies confidently (p >= 0.9), and how many classes
have at least 5% of the confident samples. For a `"conditional": true` run the samples are
asked for balanced classes and it also reports how often the classifier sees the class
asked for. Prints one JSON line. Not a timed test.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from gan_tf.config import TrainConfig  # noqa: E402

flags.DEFINE_string("output_dir", "/tmp/gan_tf_default_run", "run directory (must be new)")
flags.DEFINE_string("overrides", "{}", "JSON dict of TrainConfig fields to override")
flags.DEFINE_integer("num_samples", 2000, "samples judged by the classifier")
FLAGS = flags.FLAGS


def train_digit_classifier(images, labels, seed=0, epochs=8):
    """A small CNN on uint8 digits (N, 28, 28, 1); returns (model, held-out accuracy)."""
    import numpy as np

    from common import digit_cnn
    from gan_tf.data import to_float

    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:1000], order[1000:]
    model = digit_cnn(seed)
    model.fit(to_float(images[train]), labels[train], epochs=epochs, batch_size=64, verbose=0)
    accuracy = model.evaluate(to_float(images[test]), labels[test], verbose=0)[1]
    return model, float(accuracy)


def judge(classifier, samples, requested=None):
    """Class histogram and confidence of `samples` in [-1, 1] (and agreement with `requested`)."""
    import numpy as np

    probabilities = np.asarray(
        __import__("keras").activations.softmax(classifier.predict(samples, verbose=0)))
    predicted = probabilities.argmax(-1)
    confident = probabilities.max(-1) >= 0.9
    histogram = np.bincount(predicted[confident], minlength=10)
    covered = int((histogram >= 0.05 * max(1, confident.sum())).sum())
    report = {
        "confident_fraction": round(float(confident.mean()), 3),
        "confident_histogram": histogram.tolist(),
        "classes_with_5pct_of_confident": covered,
    }
    if requested is not None:
        report["requested_class_accuracy"] = round(float((predicted == requested).mean()), 3)
        report["requested_class_accuracy_per_class"] = [
            round(float((predicted[requested == c] == c).mean()), 3) for c in range(10)]
    return report


def export_samples(export_path, conditional, num_samples, seed=12345):
    """`(samples, requested labels or None)` from a run's export; balanced classes when
    conditional."""
    import numpy as np
    import tensorflow as tf

    exported = tf.saved_model.load(export_path)
    seed = tf.constant(seed, tf.int64)
    if conditional:
        requested = np.arange(num_samples) % 10
        return exported.signatures["generate"](
            labels=tf.constant(requested, tf.int32), seed=seed)["images"], requested
    return exported.signatures["generate"](
        num_images=tf.constant(num_samples), seed=seed)["images"], None


def main(argv):
    del argv
    from gan_tf import data, hardware, runs, train_lib

    config = TrainConfig(**{**json.loads(FLAGS.overrides), "output_dir": FLAGS.output_dir})
    started = time.perf_counter()
    result = train_lib.train(config, verbose=0)
    total = time.perf_counter() - started
    digits = data.load_embedded_mnist()
    classifier, accuracy = train_digit_classifier(digits.images, digits.labels)
    import numpy as np

    config, _ = runs.read_run_config(FLAGS.output_dir)  # conditional resolved from the data
    samples, requested = export_samples(result.export_path, config.conditional,
                                        FLAGS.num_samples)
    report = {
        "config": {k: v for k, v in config.to_dict().items() if k != "output_dir"},
        "fit_seconds": round(result.seconds, 1),
        "total_seconds_incl_data_and_export": round(total, 1),
        "images_per_second": round(result.images_per_second),
        "classifier_heldout_accuracy": round(accuracy, 4),
        "real_digits": judge(classifier, data.to_float(
            digits.images[np.random.default_rng(1).permutation(len(digits))[:FLAGS.num_samples]])),
        "samples": judge(classifier, samples, requested),
        "final_metrics": {k: round(v[-1], 4) for k, v in result.history.items()},
        "cpu": hardware.describe_cpu(),  # times differ about 5x between CPUs
    }
    print(json.dumps(report))
    sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
