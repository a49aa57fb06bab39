"""GANs written the way other Keras projects write them, shrunk so that tests run in seconds.

After Keras's own examples (keras-io `generative/dcgan_overriding_train_step.py`,
`generative/conditional_gan.py`, `generative/wgan_gp.py`): each keeps its own networks,
optimizers as attributes (`d_optimizer`, `g_optimizer`), its own `train_step` and metrics, and
draws its randomness from a `keras.random.SeedGenerator`. None of them knows gan_tf.

- `DCGAN`: 64x64 colour images in [0, 1], a sigmoid generator, a discriminator that ends in
  a sigmoid, binary cross-entropy on probabilities, noisy labels.
- `ConditionalGAN`: one-hot labels concatenated to the latents (the generator has one input
  of `latent_dim + num_classes`) and to the images as extra channels; tanh images.
- `WGANGP`: a critic with a gradient penalty, `discriminator_extra_steps` critic updates per
  generator update; tanh images.

Also their data (`colour_images`: 64x64x3 in [0, 1]; `labelled_images`), a cheap judge
(`Projection`) and `train`: one of them with every gan_tf callback attached, from a folder.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from gan_tf import callbacks, features

LATENT_DIM = 8


def colour_images(count=32, seed=0, size=64):
    """`count` 64x64 RGB images in [0, 1]: smooth colour blobs (a fixed function of seed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r ** 2))
        colour = rng.uniform(0.2, 1.0, 3)
        images.append(blob[..., None] * colour)
    return np.clip(np.stack(images), 0, 1).astype("float32")


def labelled_images(count=40, num_classes=4, seed=0, size=8):
    """`(images in [-1, 1] (count, 8, 8, 1), int labels)`: class c lights up row band c."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % num_classes
    images = rng.normal(0.0, 0.2, (count, size, size, 1))
    band = size // num_classes
    for index, label in enumerate(labels):
        images[index, label * band:(label + 1) * band] += 1.0
    return np.tanh(images).astype("float32"), labels.astype("int32")


def dcgan_networks(latent_dim=LATENT_DIM):
    generator = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(4 * 4 * 8), keras.layers.Reshape((4, 4, 8)),
        keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same"),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid"),
    ], name="generator")
    discriminator = keras.Sequential([
        keras.Input((64, 64, 3)),
        keras.layers.Conv2D(4, 4, strides=4, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(8, 4, strides=4, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Flatten(), keras.layers.Dropout(0.2),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")
    return generator, discriminator


class DCGAN(keras.Model):
    """keras-io's DCGAN that overrides `train_step`, at a tiny size."""

    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM):
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
        generated = self.generator(latents)
        combined = ops.concatenate([generated, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], 0)
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined, training=True))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(latents, training=True))
            g_loss = self.loss_fn(ops.zeros((batch_size, 1)), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def make_dcgan(learning_rate=1e-3):
    generator, discriminator = dcgan_networks()
    model = DCGAN(discriminator, generator)
    model.compile(keras.optimizers.Adam(learning_rate), keras.optimizers.Adam(learning_rate),
                  keras.losses.BinaryCrossentropy())
    return model


class ConditionalGAN(keras.Model):
    """keras-io's conditional GAN: one-hot labels concatenated to the latents and images."""

    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM, num_classes=4,
                 image_size=8):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_size = image_size
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.gen_loss_tracker = keras.metrics.Mean(name="generator_loss")
        self.disc_loss_tracker = keras.metrics.Mean(name="discriminator_loss")

    @property
    def metrics(self):
        return [self.gen_loss_tracker, self.disc_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def _label_maps(self, one_hot):
        maps = one_hot[:, None, None, :]
        return ops.repeat(ops.repeat(maps, self.image_size, axis=1), self.image_size, axis=2)

    def train_step(self, data):
        real_images, labels = data
        one_hot = ops.one_hot(labels, self.num_classes)
        maps = self._label_maps(one_hot)
        batch_size = ops.shape(real_images)[0]
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(ops.concatenate([latents, one_hot], axis=1))
        fake = ops.concatenate([generated, maps], -1)
        real = ops.concatenate([real_images, maps], -1)
        combined = ops.concatenate([fake, real], axis=0)
        targets = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], 0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(targets, self.discriminator(combined, training=True))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            images = self.generator(ops.concatenate([latents, one_hot], 1), training=True)
            predictions = self.discriminator(ops.concatenate([images, maps], -1))
            g_loss = self.loss_fn(ops.zeros((batch_size, 1)), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.gen_loss_tracker.update_state(g_loss)
        self.disc_loss_tracker.update_state(d_loss)
        return {"g_loss": self.gen_loss_tracker.result(),
                "d_loss": self.disc_loss_tracker.result()}


def make_conditional_gan(num_classes=4, learning_rate=1e-3):
    generator = keras.Sequential([
        keras.Input((LATENT_DIM + num_classes,)),
        keras.layers.Dense(64), keras.layers.LeakyReLU(0.2),
        keras.layers.Dense(64, activation="tanh"), keras.layers.Reshape((8, 8, 1)),
    ], name="generator")
    discriminator = keras.Sequential([
        keras.Input((8, 8, 1 + num_classes)), keras.layers.Flatten(),
        keras.layers.Dense(32), keras.layers.LeakyReLU(0.2), keras.layers.Dense(1),
    ], name="discriminator")
    model = ConditionalGAN(discriminator, generator, num_classes=num_classes)
    model.compile(keras.optimizers.Adam(learning_rate), keras.optimizers.Adam(learning_rate),
                  keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def conditional_sample_fn(model):
    """How the conditional GAN's generator is called: one-hot labels after the latents."""
    def sample(latents, labels):
        one_hot = tf.one_hot(labels, model.num_classes)
        return model.generator(tf.concat([latents, one_hot], axis=-1), training=False)
    return sample


def wgan_networks(latent_dim=LATENT_DIM):
    generator = keras.Sequential([
        keras.Input((latent_dim,)), keras.layers.Dense(64), keras.layers.LeakyReLU(0.2),
        keras.layers.Dense(64, activation="tanh"), keras.layers.Reshape((8, 8, 1)),
    ], name="generator")
    critic = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32),
        keras.layers.LeakyReLU(0.2), keras.layers.Dense(1),
    ], name="critic")
    return generator, critic


class WGANGP(keras.Model):
    """keras-io's WGAN-GP: critic steps, a gradient penalty, Wasserstein losses."""

    def __init__(self, discriminator, generator, latent_dim=LATENT_DIM,
                 discriminator_extra_steps=2, gp_weight=10.0):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_steps = discriminator_extra_steps
        self.gp_weight = gp_weight
        self.seed_generator = keras.random.SeedGenerator(7)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def gradient_penalty(self, batch_size, real_images, fake_images):
        alpha = keras.random.uniform((batch_size, 1, 1, 1), seed=self.seed_generator)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            prediction = self.discriminator(interpolated, training=True)
        grads = tape.gradient(prediction, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        for _ in range(self.d_steps):
            latents = keras.random.normal((batch_size, self.latent_dim),
                                          seed=self.seed_generator)
            with tf.GradientTape() as tape:
                fake_images = self.generator(latents, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real_images, training=True)
                d_cost = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
                penalty = self.gradient_penalty(batch_size, real_images, fake_images)
                d_loss = d_cost + penalty * self.gp_weight
            grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        latents = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.discriminator(self.generator(latents, training=True),
                                                        training=True))
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def make_wgan_gp(learning_rate=1e-3):
    generator, critic = wgan_networks()
    model = WGANGP(critic, generator)
    model.compile(keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9),
                  keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.9))
    return model


class Projection(features.Extractor):
    """A cheap judge for tests: a fixed random projection of the pixels, squashed."""

    name = "projection"
    batch_size = 16

    def __init__(self, image_shape, dim=12, seed=0):
        size = int(np.prod(image_shape))
        self.weights = np.random.default_rng(seed).normal(
            0, 1 / np.sqrt(size), (size, dim)).astype("float32")
        self.calls = []  # (batch size, min, max) of every batch it was given

    def _call(self, batch):
        batch = np.asarray(batch)
        self.calls.append((len(batch), float(batch.min()), float(batch.max())))
        return np.tanh(batch.reshape(len(batch), -1) @ self.weights), None


class Interrupted(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Raises `Interrupted` after batch `step` (from 1) of epoch `epoch` (from 1): a kill
    right after that batch's checkpoint."""

    def __init__(self, epoch, step):
        super().__init__()
        self.at = (epoch, step)
        self._epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch + 1) == self.at:
            raise Interrupted()


# name: (make the model, the data as a tf.data of batches, the images the judge sees as
# real (in [-1, 1]), the health monitor's and grid's value range, SampleQuality options)
def _dcgan():
    images = colour_images(24)
    return (make_dcgan(), tf.data.Dataset.from_tensor_slices(images).batch(8),
            images, (0.0, 1.0))


def _conditional():
    images, labels = labelled_images(24)
    return (make_conditional_gan(),
            tf.data.Dataset.from_tensor_slices((images, labels)).batch(8), images, (-1.0, 1.0))


def _wgan_gp():
    images, _ = labelled_images(24)
    return (make_wgan_gp(), tf.data.Dataset.from_tensor_slices(images).batch(8),
            images, (-1.0, 1.0))


MODELS = {"dcgan": _dcgan, "conditional": _conditional, "wgan_gp": _wgan_gp}


def train(name, folder, epochs, stop_at=None, keep_state=True, extra=()):
    """Trains model `name` with every callback in `folder` (relative paths, from there);
    `stop_at=(epoch, step)` interrupts it after that batch (and its checkpoint).

    Returns the model and its `ResumableCheckpoint`."""
    keras.utils.set_random_seed(0)  # the same initial weights in every run
    model, dataset, real, value_range = MODELS[name]()
    previous = os.getcwd()
    os.makedirs(folder, exist_ok=True)
    os.chdir(folder)
    try:
        judge = Projection(real.shape[1:])
        low, high = value_range
        real_scaled = (real - low) * (2.0 / (high - low)) - 1.0
        options = {"value_range": value_range}
        if name == "conditional":  # every sampling callback is told how to call it
            options.update(sample_fn=conditional_sample_fn(model),
                           latent_dim=LATENT_DIM, num_classes=4)
        quality = callbacks.SampleQuality(judge, {"features": judge.features(real_scaled)},
                                          every_n_epochs=1, num_samples=40, batch_size=16,
                                          best_checkpoint_dir="best", **options)
        health = callbacks.TrainingHealth(real_images=real, num_samples=16, warmup_epochs=0,
                                          patience=3, **options)
        checkpoint = callbacks.ResumableCheckpoint(
            "checkpoints", every_n_steps=1,
            callbacks=[health, quality] if keep_state else None)
        extra = list(extra) + ([InterruptAt(*stop_at)] if stop_at else [])
        run = [quality, health, callbacks.MetricsLog("metrics.jsonl", plot_path="curves.png"),
               callbacks.SampleGrid("samples", num_rows=2, num_cols=2, **options),
               callbacks.StopOnNonFinite(), checkpoint] + extra
        try:
            checkpoint.fit(model, dataset, epochs, callbacks=run, verbose=0)
        except Interrupted:
            pass
        return model, checkpoint
    finally:
        os.chdir(previous)
