r"""The downstream table of docs/evaluation.md: does generated data beat ordinary augmentation?

    python benchmarks/downstream.py --output_dir=/tmp/downstream --per_class=10,50 \
        [--split=validation] [--epochs_10=4000 ...] [-- any train flag via --train_flags]

For each size (images per class of the embedded digits, or of `--dataset`): trains a
class-conditional GAN with `--holdout=0.2` (100 held-out digits per class that neither the
GAN nor any classifier sees) on that many real images per class (a finished run of the same
settings in `--output_dir` is reused), then runs `python -m gan_tf.evaluate --downstream` on
it (the library call, same options). `--split=validation` tests on a validation split of
the real training digits instead (how settings are chosen); the default `test` reports on
the held-out digits. Prints one JSON line per size. Not a timed test.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("output_dir", "/tmp/gan_tf_downstream", "where the GAN runs go")
flags.DEFINE_list("per_class", ["10", "50"], "real training digits per class")
flags.DEFINE_string("split", "test", "test | validation")
flags.DEFINE_integer("epochs_10", 4000, "GAN epochs at 10 digits per class (2,000 gained "
                     "less on the validation split)")
flags.DEFINE_integer("epochs_50", 1800, "GAN epochs at 50 digits per class (600 gained "
                     "less on the validation split)")
flags.DEFINE_string("dataset", "embedded_mnist", "a labelled dataset (e.g. array:letters.npz)")
flags.DEFINE_string("architecture", "dcgan", "GAN architecture")
flags.DEFINE_integer("batch_size", 32, "GAN batch size")
flags.DEFINE_string("augment", "diffaugment", "GAN --augment")
flags.DEFINE_float("ema_decay", 0.999, "GAN --ema_decay (0: off)")
flags.DEFINE_string("loss", "non_saturating", "GAN --loss")
flags.DEFINE_bool("spectral_norm", False, "GAN --spectral_norm")
flags.DEFINE_float("r1_penalty", 0.0, "GAN --r1_penalty")
flags.DEFINE_float("mode_seeking", 0.0, "GAN --mode_seeking")
flags.DEFINE_integer("gan_seed", 0, "GAN seed (also the holdout's)")
flags.DEFINE_integer("num_generated", 5000, "generated digits")
flags.DEFINE_float("generated_fraction", 0.5, "generated share of each batch")
flags.DEFINE_string("sample_filter", "confident", "confident | none")
flags.DEFINE_float("min_confidence", 0.9, "filter threshold")
flags.DEFINE_integer("seeds", 5, "classifier seeds per arm")
flags.DEFINE_integer("steps", 1000, "classifier steps per arm")
flags.DEFINE_integer("validation_seeds", 2, "seeds per augmentation candidate")
flags.DEFINE_string("checkpoint", "latest", "latest | best")
flags.DEFINE_string("augmentation", "auto", "ordinary augmentation (auto: on validation)")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from gan_tf import downstream, train_lib
    from gan_tf.config import TrainConfig

    for per_class in map(int, FLAGS.per_class):
        epochs = FLAGS.epochs_10 if per_class <= 10 else FLAGS.epochs_50
        run_dir = os.path.join(
            FLAGS.output_dir,
            f"pc{per_class}-e{epochs}-{FLAGS.augment}-ema{FLAGS.ema_decay}-{FLAGS.loss}"
            f"-sn{int(FLAGS.spectral_norm)}-r1{FLAGS.r1_penalty}-b{FLAGS.batch_size}"
            f"-s{FLAGS.gan_seed}"
            + (f"-ms{FLAGS.mode_seeking:g}" if FLAGS.mode_seeking else "")
            + ("" if FLAGS.architecture == "dcgan" else f"-{FLAGS.architecture}")
            + ("" if FLAGS.dataset == "embedded_mnist"
               else "-" + os.path.basename(FLAGS.dataset).split(".")[0]))
        config = TrainConfig(dataset=FLAGS.dataset, architecture=FLAGS.architecture,
                             conditional=True, holdout=0.2, max_examples=10 * per_class,
                             epochs=epochs, batch_size=FLAGS.batch_size, augment=FLAGS.augment,
                             ema_decay=FLAGS.ema_decay or None, loss=FLAGS.loss,
                             spectral_norm=FLAGS.spectral_norm, r1_penalty=FLAGS.r1_penalty,
                             mode_seeking=FLAGS.mode_seeking,
                             seed=FLAGS.gan_seed, sample_every_n_epochs=max(1, epochs // 10),
                             checkpoint_every_n_epochs=max(1, epochs // 10),
                             eval_every_n_epochs=max(1, epochs // 5), output_dir=run_dir)
        started = time.perf_counter()
        result = train_lib.train(config, verbose=0)
        gan_seconds = time.perf_counter() - started
        options = downstream.Options(
            num_generated=FLAGS.num_generated, generated_fraction=FLAGS.generated_fraction,
            sample_filter=FLAGS.sample_filter, min_confidence=FLAGS.min_confidence,
            seeds=FLAGS.seeds, steps=FLAGS.steps, checkpoint=FLAGS.checkpoint,
            augmentation=FLAGS.augmentation, split=FLAGS.split,
            validation_seeds=FLAGS.validation_seeds)
        report, _ = downstream.downstream_report(run_dir, options)
        print(json.dumps({
            "per_class": per_class, "run_dir": run_dir, "gan_epochs": epochs,
            "gan_seconds": round(gan_seconds, 1) if result.trained else None,
            "options": vars(options), "validation_seen_by_gan": report[
                "validation_seen_by_gan"], "test_images": report["test_images"],
            "augmentation": report["augmentation"], "generated": report["generated"],
            "arms": {arm: {"mean": round(v["mean"], 4), "std": round(v["std"], 4),
                           "each": v["each"]} for arm, v in report["arms"].items()},
            "gain": report["gain_over_augmentation"], "verdict": report["verdict"],
            "seconds": report["seconds"]}))
        sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
