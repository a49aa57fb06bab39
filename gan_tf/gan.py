"""`GAN(keras.Model)`: a generator and a discriminator trained against each other by `fit`."""

import keras
import numpy as np
import tensorflow as tf

from gan_tf import augment as augment_lib
from gan_tf import config as config_lib
from gan_tf import losses as losses_lib
from gan_tf.errors import (UserError, check_choice, check_non_negative, check_positive_int,
                           invalid)


def sample_latents(num_images, latent_dim, seed):
    """Standard-normal latents `(num_images, latent_dim)`, a pure function of `seed`.

    The same formula is traced into the exported generator's `generate` signature, so
    `GAN.generate(n, seed)` and the SavedModel's `generate(n, seed)` give the same images.
    """
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.stateless_normal([num_images, latent_dim], seed=seed)


def latent_dim_of(generator, latent_dim=None):
    """The generator's latent size: `latent_dim` if given, else read off its one input."""
    if latent_dim is not None:
        check_positive_int("latent_dim", latent_dim)
        return latent_dim
    try:
        inputs = generator.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs and len(inputs) == 1 and len(inputs[0].shape) == 2:
        return int(inputs[0].shape[-1])
    raise UserError(
        f"Cannot tell the latent size of generator {getattr(generator, 'name', generator)!r}: "
        "it has no single (batch, latent_dim) keras.Input. Pass latent_dim=N.")


class _Holder:
    """A plain box: Keras does not track a model kept in it as a sub-layer of the GAN."""

    def __init__(self):
        self.model = None


def _clone(model, latent_dim):
    """A new, built model of the same architecture as `model` (weights not copied)."""
    try:
        clone = type(model).from_config(model.get_config())
    except Exception:  # noqa: BLE001 - fall back to Keras's generic cloning
        clone = keras.models.clone_model(model)
    if not clone.built:
        clone(tf.zeros((1, latent_dim)))
    return clone


@keras.saving.register_keras_serializable(package="gan_tf")
class GAN(keras.Model):
    """A generator and a discriminator trained with the adversarial objective by `fit`.

    Each `train_step` makes one discriminator update (on a real batch and a fake batch) and
    then one generator update, each with its own tape and optimizer. Latent vectors are drawn
    statelessly from `(seed, optimizer step, replica)`, so they are saved with the optimizers'
    step counters in any checkpoint, differ between replicas, and a run under a
    `tf.distribute` strategy sees the same global batch of latents as a single-device run.
    Losses are divided by the number of replicas before the gradients are taken: replicas'
    gradients are summed, so the update is that of the global-batch mean.

    Example:
    ```python
    gan = GAN(MLPGenerator(), MLPDiscriminator())
    gan.compile(loss="non_saturating")
    gan.fit(images_dataset, epochs=5)
    samples = gan.generate(16, seed=1)  # numpy, (16, 28, 28, 1) in [-1, 1]
    ```

    Args:
        generator: a `keras.Model` from `(batch, latent_dim)` latents to images in [-1, 1].
        discriminator: a `keras.Model` from images to one logit per image.
        seed: seed of the latent vectors drawn during training. Defaults to 0.
        latent_dim: size of the generator's input. Defaults to the size of its
            `keras.Input`; needed for a generator built without one.
    """

    def __init__(self, generator, discriminator, seed=0, latent_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self.latent_dim = latent_dim_of(generator, latent_dim)
        if not (generator.built and discriminator.built):
            # A network defined without keras.Input (e.g. a Sequential of layers) has no
            # variables yet; one forward pass creates them, so compile can build optimizers.
            discriminator(generator(tf.zeros((1, self.latent_dim))))
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")
        self.gradient_penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.r1_penalty_tracker = keras.metrics.Mean(name="r1_penalty")
        self.gradient_penalty_weight = 0.0
        self.r1_penalty_weight = 0.0
        self.discriminator_steps = 1
        self.augment = "none"
        self._averaged = _Holder()
        # The networks are built from keras.Input; without this, save_weights and friends
        # refuse the wrapper after fit (FINDINGS.md).
        self.built = True

    def compile(self, generator_optimizer=None, discriminator_optimizer=None,
                loss="non_saturating", gradient_penalty=0.0, r1_penalty=0.0,
                discriminator_steps=1, augment="none", **kwargs):
        """Sets both optimizers (default Adam(2e-4, beta_1=0.5)), the loss and D's regularizers.

        Args:
            generator_optimizer: optimizer of G. Defaults to Adam(2e-4, beta_1=0.5).
            discriminator_optimizer: optimizer of D. Defaults to Adam(2e-4, beta_1=0.5).
            loss: a name from `gan_tf.losses`: "minimax", "non_saturating", "wasserstein",
                "hinge" or "least_squares".
            gradient_penalty: weight of the WGAN-GP penalty added to D's loss (0: off).
            r1_penalty: gamma of the R1 penalty on real images added to D's loss (0: off).
            discriminator_steps: D updates per G update, each on the step's real batch with
                fresh latents. Defaults to 1.
            augment: "none" or "diffaugment": D sees real and generated images through the
                same kind of random differentiable colour/translation/cutout transformation
                (`gan_tf.augment`), in the D and the G steps. Penalties use the
                un-augmented images.
            **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).
        """
        self.generator_loss_fn, self.discriminator_loss_fn = losses_lib.get(loss)
        self.loss_name = loss
        self.decision_threshold = losses_lib.decision_threshold(loss)
        check_non_negative("gradient_penalty", gradient_penalty)
        check_non_negative("r1_penalty", r1_penalty)
        check_positive_int("discriminator_steps", discriminator_steps)
        check_choice("augment", augment, config_lib.AUGMENTATIONS)
        self.augment = augment
        self.gradient_penalty_weight = float(gradient_penalty)
        self.r1_penalty_weight = float(r1_penalty)
        self.discriminator_steps = discriminator_steps
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(
            2e-4, beta_1=0.5)
        if self.generator_optimizer is self.discriminator_optimizer:
            raise invalid("discriminator_optimizer", "the generator's optimizer",
                          "a separate optimizer instance for each network")
        # optimizer=None: Keras would otherwise build an unused default optimizer over every
        # variable and save it in every checkpoint (FINDINGS.md).
        super().compile(optimizer=None, **kwargs)
        # Built now, so checkpoint restores fill their slots instead of skipping them.
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        metrics = [self.d_loss_tracker, self.g_loss_tracker, self.real_accuracy_tracker,
                   self.fake_accuracy_tracker]
        if self.gradient_penalty_weight:
            metrics.append(self.gradient_penalty_tracker)
        if self.r1_penalty_weight:
            metrics.append(self.r1_penalty_tracker)
        return metrics

    def call(self, latents, training=False):
        return self.generator(latents, training=training)

    def train_step(self, data):
        real_images = data[0] if isinstance(data, (tuple, list)) else data
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # Discriminator steps: ascend log D(x) + log(1 - D(G(z))) (or the chosen loss).
        d_variables = self.discriminator.trainable_variables
        for _ in range(self.discriminator_steps):
            step = self.discriminator_optimizer.iterations
            latents = self._draw(batch_size, [self.latent_dim], step, 0)
            with tf.GradientTape() as tape:
                fake_images = self.generator(latents, training=True)
                seen_real, seen_fake = self._augment_pair(real_images, fake_images, step)
                real_logits = self.discriminator(seen_real, training=True)
                fake_logits = self.discriminator(seen_fake, training=True)
                d_loss = self.discriminator_loss_fn(real_logits, fake_logits)
                total_d_loss = d_loss
                if self.gradient_penalty_weight:
                    interpolation = self._draw(batch_size, [], step, 2, uniform=True)
                    penalty = losses_lib.gradient_penalty(
                        self.discriminator, real_images, fake_images, interpolation)
                    total_d_loss += self.gradient_penalty_weight * penalty
                    self.gradient_penalty_tracker.update_state(penalty)
                if self.r1_penalty_weight:
                    penalty = losses_lib.r1_penalty(self.discriminator, real_images)
                    total_d_loss += self.r1_penalty_weight * penalty
                    self.r1_penalty_tracker.update_state(penalty)
                scaled_d_loss = total_d_loss / replicas
            self.discriminator_optimizer.apply_gradients(
                zip(tape.gradient(scaled_d_loss, d_variables), d_variables))
            self.d_loss_tracker.update_state(d_loss)

        # Generator step, with fresh latents.
        latents = self._draw(batch_size, [self.latent_dim], self.generator_optimizer.iterations, 1)
        with tf.GradientTape() as tape:
            generated = self._augment(self.generator(latents, training=True),
                                      2 * self.generator_optimizer.iterations + 1)
            generated_logits = self.discriminator(generated, training=True)
            g_loss = self.generator_loss_fn(generated_logits)
            scaled_g_loss = g_loss / replicas
        g_variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(
            zip(tape.gradient(scaled_g_loss, g_variables), g_variables))

        self.g_loss_tracker.update_state(g_loss)
        threshold = self.decision_threshold
        self.real_accuracy_tracker.update_state(tf.cast(real_logits > threshold, tf.float32))
        self.fake_accuracy_tracker.update_state(tf.cast(fake_logits <= threshold, tf.float32))
        return {metric.name: metric.result() for metric in self.metrics}

    def _augment(self, images, step):
        """`images` as D sees them: augmented with draws for (seed, step) when augmenting."""
        if self.augment == "none":
            return images
        uniforms = self._draw(tf.shape(images)[0], [augment_lib.NUM_UNIFORMS], step, 3,
                              uniform=True)
        return augment_lib.diff_augment(images, uniforms)

    def _augment_pair(self, real_images, fake_images, step):
        """Real and fake images of a D step, each with its own draws (D uses even steps)."""
        if self.augment == "none":
            return real_images, fake_images
        uniforms = self._draw(tf.shape(real_images)[0], [2, augment_lib.NUM_UNIFORMS],
                              2 * tf.cast(step, tf.int64), 3, uniform=True)
        return (augment_lib.diff_augment(real_images, uniforms[:, 0]),
                augment_lib.diff_augment(fake_images, uniforms[:, 1]))

    def _draw(self, batch_size, shape, step, stream, uniform=False):
        """This replica's slice of a global-batch random draw for (seed, step, stream).

        Standard normal (latents) or, with `uniform`, U[0, 1) (interpolation coefficients),
        of shape `(batch_size,) + shape`. Streams: 0 D's latents, 1 G's latents, 2 WGAN-GP,
        3 augmentation.
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica = context.replica_id_in_sync_group if context is not None else 0
        seed = tf.stack([tf.constant(self.seed * 4 + stream, tf.int64), tf.cast(step, tf.int64)])
        draw = tf.random.stateless_uniform if uniform else tf.random.stateless_normal
        values = draw([batch_size * replicas] + list(shape), seed=seed)
        start = tf.cast(replica, tf.int32) * batch_size
        return values[start:start + batch_size]

    @property
    def uses_ema(self):
        """True when G's optimizer keeps an exponential moving average of G's weights."""
        return bool(getattr(getattr(self, "generator_optimizer", None), "use_ema", False))

    def sampling_generator(self):
        """The generator to sample from: G with the averaged weights when `uses_ema`, else G.

        The averages are the generator optimizer's own (`keras.optimizers.Adam(use_ema=True,
        ema_momentum=decay)`), so they are checkpointed with the optimizer. The averaged
        generator is a separate model whose trainable weights are those averages and whose
        other weights (e.g. batch-norm statistics) are G's; it is refreshed on every call.
        """
        if not self.uses_ema:
            return self.generator
        optimizer = self.generator_optimizer
        if self._averaged.model is None:
            self._averaged.model = _clone(self.generator, self.latent_dim)
        averages = {id(variable): average for variable, average in zip(
            optimizer._trainable_variables, optimizer._model_variables_moving_average)}
        for target, source in zip(self._averaged.model.weights, self.generator.weights):
            target.assign(averages.get(id(source), source))
        return self._averaged.model

    def generate(self, num_images, seed=0, batch_size=500):
        """`num_images` images in [-1, 1] (numpy), from latents drawn from `seed`.

        Uses `sampling_generator()`: the averaged weights when training keeps an EMA.
        """
        latents = sample_latents(num_images, self.latent_dim, seed)
        generator = self.sampling_generator()
        parts = [generator(latents[i:i + batch_size], training=False)
                 for i in range(0, num_images, batch_size)]
        if not parts:
            raise invalid("num_images", num_images, "a positive integer")
        return np.concatenate([np.asarray(p) for p in parts])

    def checkpoint_items(self):
        """What a `tf.train.Checkpoint` must hold to resume this GAN exactly."""
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
        }

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "seed": self.seed,
            "latent_dim": self.latent_dim,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return {}
        return {
            "generator_optimizer": keras.saving.serialize_keras_object(self.generator_optimizer),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                self.discriminator_optimizer),
            "loss": self.loss_name,
            "gradient_penalty": self.gradient_penalty_weight,
            "r1_penalty": self.r1_penalty_weight,
            "discriminator_steps": self.discriminator_steps,
            "augment": self.augment,
        }

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(config["generator_optimizer"]),
            discriminator_optimizer=keras.optimizers.deserialize(
                config["discriminator_optimizer"]),
            loss=config["loss"],
            gradient_penalty=config.get("gradient_penalty", 0.0),
            r1_penalty=config.get("r1_penalty", 0.0),
            discriminator_steps=config.get("discriminator_steps", 1),
            augment=config.get("augment", "none"),
        )
