"""GAIN, the GAN imputer, as Keras models: generator, discriminator and `GainImputer`.

Yoon, Jordon and van der Schaar, "GAIN: Missing Data Imputation using Generative Adversarial
Nets", ICML 2018. The generator G sees the data with its holes filled by small noise and the
mask, and proposes every entry; the discriminator D sees the data completed with G's
proposals and a *hint* (a random share of the mask revealed) and guesses, entry by entry,
which entries were observed. G is trained to fool D on the missing entries and to reproduce
the observed ones (a mean squared error weighted by `alpha`).

Everything works on float32 arrays of values in [0, 1] (tables min-max scaled, images mapped
from [-1, 1]) and a mask of the same shape (1 observed, 0 missing); every operation is
entry-wise, so the same `GainImputer` trains the tabular MLPs and the convolutional networks
of images. D returns logits and the losses use `softplus` (`-log sigmoid(l) = softplus(-l)`),
so no `log(0)` can occur: the authors' `log(D + 1e-8)` on float32 sigmoid outputs is what
turned to NaN in their code.
"""

import keras
import numpy as np
import tensorflow as tf

from gan_tf import gan as gan_lib
from gan_tf.errors import (check_fraction, check_non_negative, check_positive_int,
                           check_seed, invalid)

HINT_RATE = 0.9  # the authors' code reveals 90% of the observed positions to D
ALPHA = 100.0  # weight of the MSE on observed entries
LEARNING_RATE = 1e-3  # Adam, both players
NOISE_SCALE = 0.01  # missing entries enter G as U[0, 0.01] noise

# The random streams of a training step, for `imputer_draw`.
NOISE, HINT, BATCH, DROP = range(4)
_STREAMS = 4


def imputer_draw(seed, stream, step, shape, maxval=1.0):
    """U[0, maxval) values of `shape` for `stream` at training step `step`: a pure function.

    Every random number of `GainImputer`'s training (the noise in the holes, the hint and
    the rows of each batch) comes from this function of (seed, stream, step), so same-seed
    runs are identical and a resumed run continues with the same draws.
    """
    key = tf.stack([tf.cast(seed, tf.int64) * _STREAMS + stream, tf.cast(step, tf.int64)])
    return tf.random.stateless_uniform(shape, seed=key, maxval=maxval)


def dropped_squares(seed, step, shape, rate, side):
    """1 inside the square hidden in each image of a batch `shape` `(N, H, W, C)`, else 0.

    Each image gets, with probability `rate`, one square of side `round(side * min(H, W))`
    (at least 1) at a uniformly random place: a pure function of (seed, step), as every draw
    of a training step is.
    """
    draws = imputer_draw(seed, DROP, step, tf.stack([shape[0], 3]))
    height, width = shape[1], shape[2]
    length = tf.maximum(1, tf.cast(tf.round(side * tf.cast(tf.minimum(height, width),
                                                            tf.float32)), tf.int32))
    tops = tf.cast(draws[:, 0] * tf.cast(height - length + 1, tf.float32), tf.int32)
    lefts = tf.cast(draws[:, 1] * tf.cast(width - length + 1, tf.float32), tf.int32)
    rows = tf.range(height)[None, :]
    columns = tf.range(width)[None, :]
    in_rows = (rows >= tops[:, None]) & (rows < tops[:, None] + length)
    in_columns = (columns >= lefts[:, None]) & (columns < lefts[:, None] + length)
    inside = in_rows[:, :, None] & in_columns[:, None, :] & (draws[:, 2] < rate)[:, None, None]
    return tf.cast(inside, tf.float32)[:, :, :, None] * tf.ones(
        tf.stack([1, 1, 1, shape[3]]), tf.float32)


def _dense_initializer(seed, index):
    return keras.initializers.HeNormal(seed=seed * 16 + index)


def joined_stack(inputs, layers):
    """`layers` applied in turn to `inputs` joined on their last axis: the body of each GAIN
    player (the table MLPs here, the image convolutions in `images`)."""
    x = keras.layers.Concatenate()(inputs)
    for layer in layers:
        x = layer(x)
    return x


@keras.saving.register_keras_serializable(package="gan_tf")
class GainGenerator(keras.Model):
    """GAIN's generator for tables: `[values, mask]` -> every entry proposed, in [0, 1].

    Two hidden ReLU layers of `hidden_units` (the authors use the number of features) and a
    sigmoid output, He-normal initial weights (the authors' "xavier_init" has standard
    deviation `sqrt(2 / fan_in)`).

    Example:
    ```python
    generator = GainGenerator(num_features=8)
    proposals = generator([values, mask])  # both (batch, 8) float32
    ```

    Args:
        num_features: columns of the (encoded) table.
        hidden_units: width of both hidden layers. Defaults to None (`num_features`).
        seed: seed of the initial weights. Defaults to 0.
    """

    def __init__(self, num_features, hidden_units=None, seed=0, **kwargs):
        check_positive_int("num_features", num_features)
        if hidden_units is not None:
            check_positive_int("hidden_units", hidden_units)
        width = hidden_units or num_features
        # === Layers ===
        hidden_1 = keras.layers.Dense(width, activation="relu",
                                      kernel_initializer=_dense_initializer(seed, 0))
        hidden_2 = keras.layers.Dense(width, activation="relu",
                                      kernel_initializer=_dense_initializer(seed, 1))
        output = keras.layers.Dense(num_features, activation="sigmoid",
                                    kernel_initializer=_dense_initializer(seed, 2))
        # === Functional Model ===
        values = keras.Input((num_features,), name="values")
        mask = keras.Input((num_features,), name="mask")
        outputs = joined_stack([values, mask], [hidden_1, hidden_2, output])
        super().__init__(inputs=[values, mask], outputs=outputs, **kwargs)
        # === Config ===
        self.num_features = num_features
        self.hidden_units = hidden_units
        self.seed = seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "num_features": self.num_features, "hidden_units": self.hidden_units,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="gan_tf")
class GainDiscriminator(keras.Model):
    """GAIN's discriminator for tables: `[completed values, hint]` -> one logit per entry.

    The logit of "this entry was observed". Two hidden ReLU layers of `hidden_units`, no
    sigmoid (losses take logits).

    Args:
        num_features: columns of the (encoded) table.
        hidden_units: width of both hidden layers. Defaults to None (`num_features`).
        seed: seed of the initial weights. Defaults to 0.
    """

    def __init__(self, num_features, hidden_units=None, seed=0, **kwargs):
        check_positive_int("num_features", num_features)
        if hidden_units is not None:
            check_positive_int("hidden_units", hidden_units)
        width = hidden_units or num_features
        # === Layers ===
        hidden_1 = keras.layers.Dense(width, activation="relu",
                                      kernel_initializer=_dense_initializer(seed, 3))
        hidden_2 = keras.layers.Dense(width, activation="relu",
                                      kernel_initializer=_dense_initializer(seed, 4))
        output = keras.layers.Dense(num_features, kernel_initializer=_dense_initializer(seed, 5))
        # === Functional Model ===
        values = keras.Input((num_features,), name="values")
        hint = keras.Input((num_features,), name="hint")
        outputs = joined_stack([values, hint], [hidden_1, hidden_2, output])
        super().__init__(inputs=[values, hint], outputs=outputs, **kwargs)
        # === Config ===
        self.num_features = num_features
        self.hidden_units = hidden_units
        self.seed = seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "num_features": self.num_features, "hidden_units": self.hidden_units,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="gan_tf")
class GainImputer(keras.Model):
    """GAIN's two players and objective; `fit` trains them, `impute` fills the holes.

    Each `fit` batch is `(values, mask)`: float32 values in [0, 1] (anything where missing)
    and a 0/1 mask of the same shape (1 observed). One training step updates D, then G, on
    the same batch and draws: the holes get U[0, 0.01] noise, the hint `B * mask` with
    `B ~ Bernoulli(hint_rate)` (the authors' code), and

    - D: `mean(BCE(mask, D(x_hat, hint)))` over every entry, with
      `x_hat = mask * x + (1 - mask) * G(x~, mask)`;
    - G: `mean((1 - mask) * -log sigmoid(D(x_hat, hint)))
         + alpha * mean((mask * x - mask * G)^2) / mean(mask)`.

    The draws are a pure function of (seed, step), step being D's optimizer iterations, so
    two runs with one seed are identical and a resumed run continues the same draws.
    Logged: `d_loss`, `g_loss` (the adversarial term), `mse` (observed entries) and
    `d_accuracy` (D's entry-wise accuracy on the unrevealed entries).

    `drop_rate` > 0 is not in the paper: each step also hides that share of the observed
    entries from G (they become holes for G and D), and the MSE term covers them, so G is
    also taught to *fill* (a denoising objective, as in MIDA, Gondara and Wang 2018), not
    only to copy the entries it sees. 0 is GAIN as published. With `drop_square` > 0 (images
    with square holes) the hidden entries are a square instead, as the holes to fill are: in
    a `drop_rate` share of the images of each step, a square of side `drop_square` times
    the shorter image side at a random place (what G must learn there is to inpaint a
    region, which entry-wise drops never ask of it).

    Example:
    ```python
    imputer = GainImputer(GainGenerator(8), GainDiscriminator(8), seed=0)
    imputer.compile()
    imputer.fit(tf.data.Dataset.from_tensor_slices((values, mask)).batch(128), epochs=10)
    filled = imputer.impute(values, mask, seed=0)  # observed entries unchanged
    ```

    Args:
        generator: a model `[values, mask] -> proposals in [0, 1]`, same shape.
        discriminator: a model `[values, hint] -> logits`, same shape.
        seed: seed of the training draws. Defaults to 0.
        hint_rate: share of the observed positions revealed to D. Defaults to 0.9.
        alpha: weight of the MSE on observed entries. Defaults to 100.
        drop_rate: share of the observed entries hidden from G in each step and scored by
            the MSE (see above). Defaults to 0 (the paper).
        drop_square: images only: hide squares of this side (a share of the shorter image
            side, in (0, 1]) in a `drop_rate` share of the images instead of single
            entries. Defaults to 0 (entries).
    """

    def __init__(self, generator, discriminator, seed=0, hint_rate=HINT_RATE, alpha=ALPHA,
                 drop_rate=0.0, drop_square=0.0, **kwargs):
        super().__init__(**kwargs)
        check_seed(seed)
        check_fraction("hint_rate", hint_rate, "0.9")
        check_non_negative("alpha", alpha)
        check_fraction("drop_rate", drop_rate, "0 or 0.2", high_open=True)
        check_fraction("drop_square", drop_square, "0 or 0.4")
        inputs = getattr(generator, "inputs", None)
        if drop_square and inputs and len(inputs[0].shape) != 4:
            raise invalid("drop_square", drop_square, "0 for a table (squares are for images "
                          "of shape (height, width, channels))")
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self.hint_rate = float(hint_rate)
        self.alpha = float(alpha)
        self.drop_rate = float(drop_rate)
        self.drop_square = float(drop_square)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.accuracy_tracker = keras.metrics.Mean(name="d_accuracy")
        self.built = True

    def compile(self, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Sets both optimizers; each defaults to Adam(1e-3), the authors' setting."""
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(LEARNING_RATE)
        self.discriminator_optimizer = (discriminator_optimizer
                                        or keras.optimizers.Adam(LEARNING_RATE))
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.mse_tracker,
                self.accuracy_tracker]

    def call(self, inputs, training=False):
        values, mask = inputs
        return self.generator([values, mask], training=training)

    def _noisy(self, values, mask, noise):
        return mask * values + (1.0 - mask) * noise

    def train_step(self, data):
        values, mask = data[0], data[1]
        values, mask = tf.cast(values, tf.float32), tf.cast(mask, tf.float32)
        step = self.discriminator_optimizer.iterations
        shape = tf.shape(values)
        observed = mask  # the entries the MSE scores
        if self.drop_rate:
            if self.drop_square:
                kept = 1.0 - dropped_squares(self.seed, step, shape, self.drop_rate,
                                             self.drop_square)
            else:
                kept = tf.cast(imputer_draw(self.seed, DROP, step, shape) >= self.drop_rate,
                               tf.float32)
            mask = mask * kept  # what G and D see as observed
        noisy = self._noisy(values, mask, imputer_draw(self.seed, NOISE, step, shape,
                                                       maxval=NOISE_SCALE))
        revealed = tf.cast(imputer_draw(self.seed, HINT, step, shape) < self.hint_rate,
                           tf.float32)
        hint = revealed * mask
        # D ascends its log-likelihood of the mask.
        with tf.GradientTape() as tape:
            proposals = self.generator([noisy, mask], training=True)
            completed = mask * noisy + (1.0 - mask) * proposals
            logits = self.discriminator([completed, hint], training=True)
            d_loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=mask, logits=logits))
        gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.discriminator_optimizer.apply_gradients(
            zip(gradients, self.discriminator.trainable_variables))
        # G fools D on the missing entries and reproduces the observed ones.
        with tf.GradientTape() as tape:
            proposals = self.generator([noisy, mask], training=True)
            completed = mask * noisy + (1.0 - mask) * proposals
            fake_logits = self.discriminator([completed, hint], training=True)
            g_loss = tf.reduce_mean((1.0 - mask) * tf.nn.softplus(-fake_logits))
            mse = tf.reduce_mean(tf.square(observed * values - observed * proposals)) / (
                tf.maximum(tf.reduce_mean(observed), 1e-8))
            total = g_loss + self.alpha * mse
        gradients = tape.gradient(total, self.generator.trainable_variables)
        self.generator_optimizer.apply_gradients(
            zip(gradients, self.generator.trainable_variables))
        # D's accuracy where it had to guess: the entries the hint did not reveal.
        unrevealed = 1.0 - hint
        correct = tf.cast(tf.equal(tf.cast(logits > 0.0, tf.float32), mask), tf.float32)
        accuracy = tf.reduce_sum(correct * unrevealed) / tf.maximum(
            tf.reduce_sum(unrevealed), 1.0)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.mse_tracker.update_state(mse)
        self.accuracy_tracker.update_state(accuracy)
        return {metric.name: metric.result() for metric in self.metrics}

    def impute(self, values, mask, seed=0, batch_size=1024):
        """`values` with every missing entry (mask 0) filled by G; observed ones unchanged.

        Args:
            values: float array in [0, 1] (NaN or anything where missing).
            mask: 0/1 array of the same shape, 1 where observed.
            seed: seed of the noise put in the holes (another seed, another draw: multiple
                imputation).
            batch_size: rows per generator call.

        Returns:
            float32 numpy array of `values`' shape.
        """
        check_seed(seed)
        check_positive_int("batch_size", batch_size)
        mask = np.asarray(mask, np.float32)
        values = np.where(mask > 0, np.nan_to_num(np.asarray(values, np.float32)), 0.0)
        values = values.astype(np.float32)
        noise = imputer_draw(seed, NOISE, 0, values.shape, maxval=NOISE_SCALE).numpy()
        noisy = mask * values + (1.0 - mask) * noise
        parts = [np.asarray(self.generator([noisy[i:i + batch_size], mask[i:i + batch_size]],
                                           training=False))
                 for i in range(0, len(values), batch_size)]
        proposals = np.concatenate(parts) if parts else np.zeros_like(values)
        return np.where(mask > 0, values, proposals).astype(np.float32)

    def checkpoint_items(self):
        """What a `tf.train.Checkpoint` must hold to resume this imputer exactly."""
        return {"generator": self.generator, "discriminator": self.discriminator,
                "generator_optimizer": self.generator_optimizer,
                "discriminator_optimizer": self.discriminator_optimizer}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "seed": self.seed, "hint_rate": self.hint_rate, "alpha": self.alpha,
                "drop_rate": self.drop_rate, "drop_square": self.drop_square}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return gan_lib.players_from_config(cls, config, custom_objects)

    def get_compile_config(self):
        return gan_lib.optimizers_config(self) if getattr(self, "compiled", False) else {}

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(config["generator_optimizer"]),
            discriminator_optimizer=keras.optimizers.deserialize(
                config["discriminator_optimizer"]))


def training_dataset(values, mask, batch_size, seed, start_step, end_step):
    """Batches `(values, mask)` for steps `start_step` .. `end_step - 1` of a training run.

    Like the authors' code, each step takes `batch_size` rows drawn at random with
    replacement, here as a pure function of (seed, step): a run resumed at any step sees the
    very batches an uninterrupted run would.
    """
    check_positive_int("batch_size", batch_size)
    values = tf.constant(np.where(np.asarray(mask) > 0, np.nan_to_num(values), 0.0),
                         tf.float32)
    mask = tf.constant(mask, tf.float32)
    count = int(values.shape[0])

    def batch(step):
        key = tf.stack([tf.constant(seed * _STREAMS + BATCH, tf.int64), step])
        rows = tf.random.stateless_uniform([batch_size], seed=key, maxval=count,
                                           dtype=tf.int64)
        return tf.gather(values, rows), tf.gather(mask, rows)

    return tf.data.Dataset.range(start_step, end_step).map(batch).prefetch(2)
