"""The tabular generator and critic of Xu et al. 2019 (CTGAN), as `keras.Model` subclasses.

Architecture only: the generator returns raw outputs (one number per entry of a transformed
row); `activate` applies the paper's output activations (`tanh` for each value, a
Gumbel-softmax for each mode, missing flag and category span), so the randomness of the
Gumbel noise stays with the caller (`gan_tf.tables.model`), drawn from (seed, step).
"""

import keras
import tensorflow as tf

from gan_tf.errors import check_non_negative_int, check_positive_int, invalid
from gan_tf.layers import FusedBatchNormalization

LATENT_DIM = 128  # the paper's |z|
HIDDEN_DIMS = (256, 256)  # the paper's two residual blocks and two critic layers
PAC = 10  # PacGAN packing: the critic judges packs of 10 rows
DROPOUT = 0.5
GUMBEL_TEMPERATURE = 0.2  # the paper's gumbel_0.2


def _check_dims(name, dims):
    dims = tuple(dims)
    if not dims or any(not isinstance(d, int) or d <= 0 for d in dims):
        raise invalid(name, dims, "a non-empty list of positive integers, e.g. (256, 256)")
    return dims


@keras.saving.register_keras_serializable(package="gan_tf")
class TableGenerator(keras.Model):
    """The conditional residual generator of CTGAN (Xu et al. 2019, section 4.4).

    `h0 = z (+) cond`; each block `h_{i+1} = h_i (+) ReLU(BN(FC(h_i)))` ((+) concatenates);
    a last dense layer gives one raw output per entry of a transformed row. Apply
    `activate(outputs, spans, ...)` to get a row (tanh values, Gumbel-softmax one-hots).

    Example:

    ```python
    generator = TableGenerator(data_dim=27, condition_dim=8)
    raw = generator([tf.random.normal((4, 128)), tf.zeros((4, 8))])  # (4, 27)
    ```

    Args:
        data_dim: width of a transformed row (`TableTransformer.output_dim`).
        condition_dim: width of the conditional vector (0 for a table without
            categorical columns).
        latent_dim: size of z. Defaults to 128.
        hidden_dims: the width of each residual block. Defaults to (256, 256).
    """

    def __init__(self, data_dim, condition_dim=0, latent_dim=LATENT_DIM,
                 hidden_dims=HIDDEN_DIMS, **kwargs):
        check_positive_int("data_dim", data_dim)
        check_non_negative_int("condition_dim", condition_dim)
        check_positive_int("latent_dim", latent_dim)
        hidden_dims = _check_dims("hidden_dims", hidden_dims)
        # === Layers ===
        blocks = [(keras.layers.Dense(units, name=f"block{i}_dense"),
                   FusedBatchNormalization(name=f"block{i}_norm"))
                  for i, units in enumerate(hidden_dims)]
        output_layer = keras.layers.Dense(data_dim, name="outputs")
        # === Functional Model ===
        latents = keras.Input((latent_dim,), name="latents")
        condition = keras.Input((condition_dim,), name="condition")
        hidden = keras.layers.Concatenate(name="latents_and_condition")([latents, condition])
        for i, (dense, norm) in enumerate(blocks):
            residual = keras.layers.ReLU(name=f"block{i}_relu")(norm(dense(hidden)))
            hidden = keras.layers.Concatenate(name=f"block{i}_concat")([hidden, residual])
        outputs = output_layer(hidden)
        super().__init__(inputs=[latents, condition], outputs=outputs, **kwargs)
        # === Config ===
        self.data_dim = data_dim
        self.condition_dim = condition_dim
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.latent_distribution = "normal"

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "data_dim": self.data_dim,
                "condition_dim": self.condition_dim, "latent_dim": self.latent_dim,
                "hidden_dims": list(self.hidden_dims)}


@keras.saving.register_keras_serializable(package="gan_tf")
class Pack(keras.layers.Layer):
    """PacGAN packing (Lin et al. 2018): `(batch, width)` -> `(batch / pac, pac * width)`.

    Consecutive rows are judged together; the batch must be a multiple of `pac`.
    """

    def __init__(self, pac=PAC, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("pac", pac)
        self.pac = pac

    def call(self, inputs):
        width = inputs.shape[-1]
        return keras.ops.reshape(inputs, (-1, self.pac * width))

    def compute_output_shape(self, input_shape):
        return (None, self.pac * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pac": self.pac}


@keras.saving.register_keras_serializable(package="gan_tf")
class TableCritic(keras.Model):
    """The packed critic of CTGAN (Xu et al. 2019, section 4.4): one score per pack of rows.

    `h0 = r_1 (+) ... (+) r_pac (+) cond_1 (+) ... (+) cond_pac` (each row beside its
    condition, `pac` of them side by side); two layers `drop(leaky_0.2(FC(h)))`; a dense
    score (a logit, no activation). Its batch must be a multiple of `pac`; it returns
    `batch / pac` scores.

    Example:

    ```python
    critic = TableCritic(data_dim=27, condition_dim=8)
    scores = critic([tf.zeros((20, 27)), tf.zeros((20, 8))])  # (2, 1)
    ```

    Args:
        data_dim: width of a transformed row.
        condition_dim: width of the conditional vector.
        pac: rows per pack. Defaults to 10 (the paper's).
        hidden_dims: the width of each layer. Defaults to (256, 256).
        dropout: dropout rate after each layer. Defaults to 0.5.
        seed: seed of the dropout masks (their state is checkpointed by `TableGAN`).
    """

    def __init__(self, data_dim, condition_dim=0, pac=PAC, hidden_dims=HIDDEN_DIMS,
                 dropout=DROPOUT, seed=0, **kwargs):
        check_positive_int("data_dim", data_dim)
        check_non_negative_int("condition_dim", condition_dim)
        check_positive_int("pac", pac)
        hidden_dims = _check_dims("hidden_dims", hidden_dims)
        if not 0 <= dropout < 1:
            raise invalid("dropout", dropout, "a rate in [0, 1), e.g. 0.5")
        # === Layers ===
        layers = [(keras.layers.Dense(units, name=f"dense{i}"),
                   keras.layers.LeakyReLU(0.2, name=f"leaky{i}"),
                   keras.layers.Dropout(dropout, seed=int(seed) * 8 + i, name=f"dropout{i}"))
                  for i, units in enumerate(hidden_dims)]
        score = keras.layers.Dense(1, name="score")
        # === Functional Model ===
        rows = keras.Input((data_dim,), name="rows")
        condition = keras.Input((condition_dim,), name="condition")
        hidden = Pack(pac, name="pack")(
            keras.layers.Concatenate(name="rows_and_condition")([rows, condition]))
        for dense, activation, drop in layers:
            hidden = drop(activation(dense(hidden)))
        outputs = score(hidden)
        super().__init__(inputs=[rows, condition], outputs=outputs, **kwargs)
        # === Config ===
        self.data_dim = data_dim
        self.condition_dim = condition_dim
        self.pac = pac
        self.hidden_dims = hidden_dims
        self.dropout = float(dropout)
        self.seed = int(seed)

    def random_state(self):
        """The variables of the dropout masks' random streams (to checkpoint with the run)."""
        return [variable for variable in self.non_trainable_variables
                if "seed_generator" in variable.path]

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "data_dim": self.data_dim,
                "condition_dim": self.condition_dim, "pac": self.pac,
                "hidden_dims": list(self.hidden_dims), "dropout": self.dropout,
                "seed": self.seed}


def activate(outputs, spans, uniforms=None, temperature=GUMBEL_TEMPERATURE, hard=False):
    """A generator's raw outputs as rows: `tanh` on value spans, Gumbel-softmax on the others.

    Args:
        outputs: `(batch, data_dim)` raw generator outputs.
        spans: the transformer's spans (`.start`, `.width`, `.activation`).
        uniforms: `(batch, data_dim)` U(0, 1) draws for the Gumbel noise (None: no noise,
            a plain softmax).
        temperature: the Gumbel-softmax temperature. Defaults to 0.2 (the paper's).
        hard: one-hot of the noisy argmax instead of the soft sample: a category drawn from
            the generator's softmax (what sampling uses).
    """
    outputs = tf.cast(outputs, tf.float32)
    if uniforms is not None:
        tiny = 1e-20
        gumbel = -tf.math.log(-tf.math.log(tf.cast(uniforms, tf.float32) + tiny) + tiny)
    parts = []
    for span in spans:
        part = outputs[:, span.start:span.start + span.width]
        if span.activation == "tanh":
            parts.append(tf.tanh(part))
            continue
        if uniforms is not None:
            part = part + gumbel[:, span.start:span.start + span.width]
        if hard:
            parts.append(tf.one_hot(tf.argmax(part, axis=1), span.width, dtype=tf.float32))
        else:
            parts.append(tf.nn.softmax(part / temperature, axis=1))
    return tf.concat(parts, axis=1)


def condition_log_probabilities(outputs, condition_spans):
    """log softmax of the generator's raw outputs over each categorical span, side by side:
    `(batch, condition_dim)`, aligned with the conditional vector."""
    parts = [tf.nn.log_softmax(tf.cast(outputs[:, s.start:s.start + s.width], tf.float32), axis=1)
             for s in condition_spans]
    if not parts:
        return tf.zeros((tf.shape(outputs)[0], 0), tf.float32)
    return tf.concat(parts, axis=1)
