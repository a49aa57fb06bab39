"""Every gan_tf callback on a GAN that is not gan_tf's: keras-io's DCGAN, as you wrote it.

    python examples/keras_io_gan_with_callbacks.py [--output_dir=DIR] [--epochs=N]

The model is keras-io's "DCGAN overriding train_step" (its own networks, optimizers kept as
attributes, a sigmoid generator and [0, 1] images, latents from a `keras.random.SeedGenerator`),
here on 2,000 of gan_tf's embedded digits. gan_tf adds: a sample grid every epoch, FD/KD and
class coverage judged by a digit classifier, health warnings, metrics.jsonl and its plot, a stop
on NaN, and checkpoints that resume exactly, even inside an epoch (kill it and run it again:
`checkpoint.fit` restores and skips the batches already trained). Relative paths are fine.
"""

import argparse
import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from gan_tf import callbacks, data, features

LATENT_DIM = 64


class GAN(keras.Model):  # keras-io's, unchanged but for the sizes
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        combined = ops.concatenate([self.generator(latents), real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], 0)
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(latents))
            g_loss = self.loss_fn(ops.zeros((batch_size, 1)), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def networks():
    generator = keras.Sequential([
        keras.Input((LATENT_DIM,)),
        layers.Dense(7 * 7 * 32), layers.Reshape((7, 7, 32)),
        layers.Conv2DTranspose(32, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(16, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(1, 5, padding="same", activation="sigmoid"),  # images in [0, 1]
    ], name="generator")
    discriminator = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(16, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(32, 4, strides=2, padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dropout(0.2), layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")
    return generator, discriminator


def main(output_dir="/tmp/gan_tf_keras_io_gan", epochs=5):
    keras.utils.set_random_seed(0)
    digits = data.load_images("embedded_mnist", max_examples=2000)  # uint8, labelled
    images = digits.images.astype("float32") / 255.0  # this GAN's [0, 1]
    # The same batches, in the same order, every epoch: what exact resuming needs.
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(64)

    generator, discriminator = networks()
    gan = GAN(discriminator, generator, LATENT_DIM)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                keras.losses.BinaryCrossentropy())

    # A judge of digits: gan_tf's classifier, trained once on the data and cached. The real
    # images' features are computed from [-1, 1] images, as every gan_tf extractor takes them.
    judge = features.DomainClassifier.for_dataset(digits)
    real = features.real_features(judge, digits, max_images=1000)
    quality = callbacks.SampleQuality(judge, real, every_n_epochs=1, num_samples=500,
                                      value_range=(0, 1),  # the sigmoid's range
                                      best_checkpoint_dir=os.path.join(output_dir, "best"))
    health = callbacks.TrainingHealth(real_images=digits.images[:500], value_range=(0, 1))
    checkpoint = callbacks.ResumableCheckpoint(
        os.path.join(output_dir, "checkpoints"), every_n_steps=10, handle_sigterm=True,
        callbacks=[quality, health])  # their state resumes with the model
    history = checkpoint.fit(gan, dataset, epochs, verbose=2, callbacks=[
        quality, health,  # before MetricsLog: they add fd, kid, sample_diversity, ...
        callbacks.MetricsLog(os.path.join(output_dir, "metrics.jsonl"),
                             plot_path=os.path.join(output_dir, "curves.png")),
        callbacks.SampleGrid(os.path.join(output_dir, "samples"), num_rows=6, num_cols=6,
                             value_range=(0, 1)),
        callbacks.StopOnNonFinite(),
    ])
    checkpoint.stop_handling_sigterm()
    fd = history.get("fd", [float("nan")])
    print(f"Trained to epoch {epochs}: FD {np.round(fd[-1], 2)} ({judge.name}); samples in "
          f"{os.path.join(output_dir, 'samples')}; best: {quality.best and quality.best['epoch']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="/tmp/gan_tf_keras_io_gan",
                        help="where the checkpoints, samples and metrics go (relative works)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="train until this epoch; rerun with more to resume and go on")
    arguments = parser.parse_args()
    main(arguments.output_dir, arguments.epochs)
