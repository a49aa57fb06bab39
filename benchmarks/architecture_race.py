r"""The residual GAN against the DCGAN at equal wall-clock time, on digits and colour images.

    python benchmarks/architecture_race.py --output_dir=/tmp/race [--seconds=240] \
        [--datasets=digits,shapes,photos] [--variants=JSON] [--photos=skimage|PATH.whl]

Each variant trains on each dataset for about `--seconds` of `fit` (it stops at the first
epoch end past that time; the real time is reported), one after the other in this process,
class-conditional (the default on labelled data), scoring off during training. Then each
run is judged as `python -m gan_tf.evaluate --run_dir=RUN` judges it: 1,000 samples, the
dataset's domain classifier (FD and KD on its features, class coverage, and how often the
judge sees the class asked for). Datasets:
- `digits`: the embedded 5,000 MNIST digits, 28x28 grayscale;
- `shapes`: 6,000 colour shapes at 32x32 (`benchmarks/colour_shapes.py`), 6 classes;
- `photos`: 4,000 patches of real colour photographs at 32x32
  (`benchmarks/photo_patches.py`), one class per photo.
Prints one JSON line per run, then a table. Numbers, not a timed test: run it alone.
"""

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

RESNET = {"architecture": "resnet", "loss": "hinge", "generator_learning_rate": 1e-4,
          "discriminator_learning_rate": 4e-4, "beta_1": 0.0, "beta_2": 0.9}
flags.DEFINE_string("output_dir", None, "a new folder for the runs")
flags.DEFINE_integer("seconds", 240, "fit time per run")
flags.DEFINE_list("datasets", ["digits", "shapes", "photos"], "datasets to race on")
flags.DEFINE_string("variants", json.dumps({
    "dcgan (default)": {},
    "resnet width 16": {**RESNET, "dcgan_filters": 16},
    "resnet width 32": {**RESNET, "dcgan_filters": 32},
}), "JSON object: variant name -> TrainConfig overrides")
flags.DEFINE_string("photos", "skimage", "photo_patches.py's --photos")
flags.DEFINE_integer("num_samples", 1000, "samples judged per run")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def _dataset(name, folder):
    """The --dataset of `name`, writing its folder first if needed."""
    if name == "digits":
        return "embedded_mnist"
    path = os.path.join(folder, f"data_{name}")
    if not os.path.isdir(path):
        if name == "shapes":
            import colour_shapes

            colour_shapes.write_folder(path + ".partial", 6000, (32, 32), seed=0)
        else:
            import photo_patches

            photo_patches.write_folder(path + ".partial", 4000, (32, 32),
                                       photo_patches.load_photos(FLAGS.photos), seed=0)
        os.rename(path + ".partial", path)
    return f"folder:{path}"


def main(argv):
    del argv
    import keras

    from gan_tf import evaluate_lib, train_lib
    from gan_tf.config import TrainConfig

    class StopAfter(keras.callbacks.Callback):
        def __init__(self, seconds):
            super().__init__()
            self.seconds = seconds

        def on_train_begin(self, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.started > self.seconds:
                self.model.stop_training = True

    os.makedirs(FLAGS.output_dir, exist_ok=True)
    rows = []
    for dataset_name in FLAGS.datasets:
        dataset = _dataset(dataset_name, FLAGS.output_dir)
        for variant, overrides in json.loads(FLAGS.variants).items():
            slug = "".join(c if c.isalnum() else "_" for c in f"{dataset_name}_{variant}")
            run_dir = os.path.join(FLAGS.output_dir, slug)
            config = TrainConfig(**{"dataset": dataset, "epochs": 10_000,
                                    "eval_every_n_epochs": 0, "sample_every_n_epochs": 10_000,
                                    **overrides, "output_dir": run_dir})
            result = train_lib.train(config, extra_callbacks=[StopAfter(FLAGS.seconds)],
                                     verbose=0)
            epochs = result.end_epoch - result.start_epoch
            report, _ = evaluate_lib.evaluate_model(run_dir, num_samples=FLAGS.num_samples)
            row = {
                "dataset": dataset_name, "variant": variant, "fit_seconds": round(
                    result.seconds, 1), "epochs": epochs,
                "images_trained": epochs * (report["dataset"]["num_examples"]
                                            // config.batch_size) * config.batch_size,
                "fd": round(report["frechet_distance"]["value"], 2),
                "kd": round(report["kid"]["mean"], 5),
                "class_coverage": report.get("class_coverage", {}).get("covered"),
                "class_asked_for": (report.get("requested_class_accuracy") or {}).get("value"),
                "judge_accuracy": report["extractor"].get("accuracy"),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| dataset | variant | fit s | epochs | FD (classifier) | KD | classes | class asked "
          "for |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        asked = r["class_asked_for"]
        print(f"| {r['dataset']} | {r['variant']} | {r['fit_seconds']} | {r['epochs']} | "
              f"{r['fd']} | {r['kd']} | {r['class_coverage']} | "
              f"{'' if asked is None else f'{asked:.1%}'} |")


if __name__ == "__main__":
    app.run(main)
