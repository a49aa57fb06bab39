r"""Short side-by-side trainings of the residual GAN: sample quality (FD) per setting.

    python benchmarks/resnet_settings.py --output_dir=/tmp/resnet_settings

Trains each variant of `--variants` (a JSON object: name -> TrainConfig overrides, on top of
`--common`: by default the embedded digits resized to 32x32, `--architecture=resnet`, width
16, 5 epochs, scored every 5 epochs) one after the other, with gan_tf's own sample scoring
(`--extractor=classifier`: FD and KD in the features of a classifier trained on the labelled
data, 1,000 samples), and prints one JSON line per variant (the last scores, the best FD,
images/s) and a table. Runs this short rank settings only roughly: a few hundred steps, one
seed each. Not a timed test.
"""

import json
import os
import time

from absl import app, flags

flags.DEFINE_string("output_dir", "/tmp/gan_tf_resnet_settings", "runs go in here (new)")
flags.DEFINE_string("common", json.dumps({
    "architecture": "resnet", "image_size": 32, "dcgan_filters": 16, "epochs": 5,
    "eval_every_n_epochs": 5, "eval_num_samples": 1000, "sample_every_n_epochs": 5}),
    "JSON object: TrainConfig overrides of every variant")
flags.DEFINE_string("variants", json.dumps({
    "hinge, Adam 2e-4 (0, 0.9)": {"loss": "hinge", "beta_1": 0.0, "beta_2": 0.9},
    "non_saturating, Adam 2e-4 (0.5, 0.999)": {},
    "hinge, Adam 2e-4 (0.5, 0.999)": {"loss": "hinge"},
    "hinge, TTUR G 1e-4 D 4e-4 (0, 0.9)": {"loss": "hinge", "beta_1": 0.0, "beta_2": 0.9,
                                          "generator_learning_rate": 1e-4,
                                          "discriminator_learning_rate": 4e-4},
    "reference: the default DCGAN (width 64), non_saturating": {"architecture": "dcgan",
                                                                "dcgan_filters": 64},
}), "JSON object: variant name -> TrainConfig overrides")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from gan_tf import train_lib
    from gan_tf.config import TrainConfig

    rows = []
    for name, overrides in json.loads(FLAGS.variants).items():
        slug = "".join(c if c.isalnum() else "_" for c in name)[:60]
        run_dir = os.path.join(FLAGS.output_dir, slug)
        config = TrainConfig(**{**json.loads(FLAGS.common), **overrides,
                                "output_dir": run_dir})
        started = time.perf_counter()
        result = train_lib.train(config, verbose=0)
        lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
        scored = [line for line in lines if "fd" in line]
        row = {"variant": name, "overrides": overrides,
               "seconds": round(time.perf_counter() - started, 1),
               "images_per_second": round(result.images_per_second),
               "fd": scored[-1]["fd"] if scored else None,
               "kid": scored[-1].get("kid") if scored else None,
               "class_coverage": scored[-1].get("class_coverage") if scored else None,
               "requested_class_accuracy": (scored[-1].get("requested_class_accuracy")
                                            if scored else None),
               "best_fd": min((line["fd"] for line in scored), default=None),
               "last_d_loss": lines[-1].get("d_loss"), "last_g_loss": lines[-1].get("g_loss")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("| variant | FD (classifier features, last) | KD (classifier features, last) | class coverage | class asked for | images/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['variant']} | {row['fd']} | {row['kid']} | {row['class_coverage']} | "
              f"{row['requested_class_accuracy']} | {row['images_per_second']} |")


if __name__ == "__main__":
    app.run(main)
