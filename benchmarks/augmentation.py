r"""Does generated data help a classifier? Real only vs real + generated vs generated only.

    python benchmarks/augmentation.py --output_dir=/tmp/augmentation [--run_dir=RUN]

1. Takes 500 embedded digits (50 per class, `--max_examples=500`, seed 0) as the small real
   training set; the other 4,500 digits are the test set, never seen by the GAN or the
   classifiers.
2. Trains a class-conditional GAN on those 500 digits only (or uses `--run_dir`, which must
   be such a run), and generates `--num_generated` labelled digits, balanced over classes.
3. Trains the same small CNN, for the same number of steps, three ways: on the 500 real
   digits; on them plus the generated ones; on the generated ones only (the "classification
   accuracy score" of Ravuri and Vinyals, 2019). Each with `--repeats` seeds.
4. Prints one JSON line: test accuracy (mean, std, each seed) of each way.

Not a timed test. The numbers go to BUILD_NOTES.md and README.md.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("output_dir", "/tmp/gan_tf_augmentation", "where the GAN run goes")
flags.DEFINE_string("run_dir", None, "an existing conditional run on 500 digits to reuse")
flags.DEFINE_integer("max_examples", 500, "real training digits (class-balanced)")
flags.DEFINE_integer("epochs", 300, "GAN epochs when training one")
flags.DEFINE_string("architecture", "dcgan", "GAN architecture when training one")
flags.DEFINE_integer("num_generated", 5000, "generated digits")
flags.DEFINE_integer("steps", 1500, "classifier training steps (batch 64), the same each way")
flags.DEFINE_integer("repeats", 3, "classifier seeds per way")
FLAGS = flags.FLAGS


def train_and_test(images, labels, test_images, test_labels, steps, seed):
    """Test accuracy of the CNN after `steps` steps of batch 64 on (images, labels)."""
    import numpy as np
    import tensorflow as tf

    from common import digit_cnn  # the same CNN as the default-run benchmark

    model = digit_cnn(seed)
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
               .repeat().batch(64))
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return float(model.evaluate(test_images, np.asarray(test_labels), verbose=0)[1])


def main(argv):
    del argv
    import numpy as np

    from gan_tf import data, generate_lib, train_lib
    from gan_tf.config import TrainConfig

    digits = data.load_embedded_mnist()
    chosen = data.subset_indices(digits.labels, len(digits), FLAGS.max_examples, seed=0)
    test = np.setdiff1d(np.arange(len(digits)), chosen)
    run_dir = FLAGS.run_dir
    started = time.perf_counter()
    gan_seconds = None
    if run_dir is None:
        config = TrainConfig(architecture=FLAGS.architecture, conditional=True,
                             max_examples=FLAGS.max_examples, epochs=FLAGS.epochs,
                             sample_every_n_epochs=25, checkpoint_every_n_epochs=25,
                             eval_every_n_epochs=0, output_dir=FLAGS.output_dir)
        train_lib.train(config, verbose=0)
        gan_seconds = round(time.perf_counter() - started, 1)
        run_dir = config.resolved_output_dir()
    config, _ = train_lib.read_run_config(run_dir)
    if not config.conditional or config.max_examples != FLAGS.max_examples or config.seed:
        sys.exit(f"{run_dir} is not a conditional run on {FLAGS.max_examples} digits with "
                 "seed 0; its digits would not be the benchmark's real set.")
    sampler = generate_lib.load_sampler(run_dir)
    generated_labels = generate_lib.label_plan(FLAGS.num_generated, range(10))
    generated = sampler.generate(FLAGS.num_generated, seed=2024, labels=generated_labels)

    real_images = np.asarray(data.to_float(digits.images[chosen]))
    real_labels = digits.labels[chosen]
    test_images = np.asarray(data.to_float(digits.images[test]))
    ways = {
        "real_only": (real_images, real_labels),
        "real_plus_generated": (np.concatenate([real_images, generated]),
                                np.concatenate([real_labels, generated_labels])),
        "generated_only": (generated, generated_labels),
    }
    results = {}
    for name, (images, labels) in ways.items():
        scores = [train_and_test(images, labels, test_images, digits.labels[test],
                                 FLAGS.steps, seed) for seed in range(FLAGS.repeats)]
        results[name] = {"mean": round(float(np.mean(scores)), 4),
                         "std": round(float(np.std(scores)), 4),
                         "each": [round(s, 4) for s in scores],
                         "train_images": int(len(images))}
    print(json.dumps({
        "run_dir": run_dir, "gan": {"architecture": config.architecture,
                                    "epochs": config.epochs, "seconds": gan_seconds},
        "real_train_digits": int(len(chosen)), "test_digits": int(len(test)),
        "generated_digits": FLAGS.num_generated, "classifier_steps": FLAGS.steps,
        "repeats": FLAGS.repeats, "test_accuracy": results,
        "total_seconds": round(time.perf_counter() - started, 1)}))
    sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
