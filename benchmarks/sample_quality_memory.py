"""Peak memory of `SampleQuality` scoring a foreign 64x64x3 generator.

    python benchmarks/sample_quality_memory.py [--num_samples=1000] [--batch_size=N]

The generator is keras-io's DCGAN generator at its real size (latent 128; 8x8x128 ->
Conv2DTranspose 128, 256, 512 -> 64x64x3, sigmoid), called the way another project calls it
(`value_range=(0, 1)`); the judge is gan_tf's domain-classifier CNN built for 64x64x3 images
(untrained: memory does not depend on the weights). One evaluation, as at an epoch's end.
Prints one JSON line: the process's peak resident memory (`ru_maxrss`, which includes
TensorFlow itself) before and after the evaluation, and the seconds it took.

`--batch_size=NUM_SAMPLES` draws every sample in one generator call, as SampleQuality did
before it drew in batches. Run each setting in a fresh process: the peak only grows.
"""

import json
import resource
import time

from absl import app, flags

flags.DEFINE_integer("num_samples", 1000, "samples scored")
flags.DEFINE_integer("batch_size", None, "samples per generator call (default: "
                     "SampleQuality's choice for 64x64x3)")
flags.DEFINE_integer("latent_dim", 128, "the generator's latent size")
FLAGS = flags.FLAGS


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def keras_io_generator(latent_dim):
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(8 * 8 * 128), layers.Reshape((8, 8, 128)),
        layers.Conv2DTranspose(128, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(256, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(512, kernel_size=4, strides=2, padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(3, kernel_size=5, padding="same", activation="sigmoid"),
    ], name="generator")


def main(argv):
    del argv
    import keras
    import numpy as np

    from gan_tf import callbacks, features, hardware

    keras.utils.set_random_seed(0)
    generator = keras_io_generator(FLAGS.latent_dim)
    judge = features.DomainClassifier(features._classifier_model((64, 64, 3), 10), 0.0)
    real = np.random.default_rng(0).uniform(-1, 1, (200, 64, 64, 3)).astype("float32")
    quality = callbacks.SampleQuality(
        judge, {"features": judge.features(real)}, num_samples=FLAGS.num_samples,
        generator=generator, value_range=(0, 1), batch_size=FLAGS.batch_size)
    model = keras.Model()  # the model being trained: not needed, the generator is given
    quality.set_model(model)
    before = peak_mb()
    started = time.perf_counter()
    scores = quality.evaluate()
    seconds = time.perf_counter() - started
    print(json.dumps({
        "num_samples": FLAGS.num_samples,
        "batch_size": FLAGS.batch_size or callbacks.sample_quality.foreign_generation_batch(
            generator),
        "peak_rss_mb_before": round(before), "peak_rss_mb": round(peak_mb()),
        "seconds": round(seconds, 1), "fd": round(float(scores["fd"]), 3),
        "cpu": hardware.describe_cpu()}))


if __name__ == "__main__":
    app.run(main)
