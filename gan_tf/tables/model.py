"""`TableGAN`: CTGAN's objective (Xu et al. 2019) in a `train_step`, on the generic `GAN`.

Each step is one critic update and one generator update (WGAN-GP, Gulrajani et al. 2017,
penalty weight 10, on packs of `pac` rows), with the conditional vector and
training-by-sampling: for each row of the batch a discrete column is chosen uniformly, then
one of its categories with probability proportional to the log of its frequency in the
training rows; the real row is drawn among the rows that have that category, and the
generator, given the same condition, is also penalised by the cross-entropy between the
condition and its own output for that column (the paper's generator loss). Every random
number (conditions, real rows, latents, Gumbel noise, the penalty's mixing) is a stateless
draw from (seed, stream, optimizer step), and the critic's dropout state is checkpointed:
a resumed run is the same run, bit for bit. Under a `tf.distribute` strategy every replica
draws the global batch and trains on its own slice of it, so several replicas or workers
see the rows of a one-device run with the same global batch.
"""

import keras
import numpy as np
import tensorflow as tf

from gan_tf import gan as gan_lib
from gan_tf.errors import UserError, check_positive_int, invalid
from gan_tf.tables import networks
from gan_tf.tables.transformer import TableTransformer

GRADIENT_PENALTY = 10.0  # the WGAN-GP paper's lambda, CTGAN's too
LEARNING_RATE = 2e-4
BETA_1, BETA_2 = 0.5, 0.9
BATCH_SIZE = 500
EPOCHS = 300

# Random streams of a training step (`table_draw`).
(D_OPTIONS, D_ROWS, D_LATENTS, D_GUMBEL, D_MIX, G_OPTIONS, G_LATENTS,
 G_GUMBEL) = range(8)
NUM_STREAMS = 16


def table_draw(seed, stream, step, shape, kind="normal"):
    """The random values of `stream` at optimizer step `step` of a table GAN with `seed`:
    "normal", "uniform" (U[0, 1)) draws of `shape`, a pure function of its arguments."""
    key = tf.stack([tf.constant(seed * NUM_STREAMS + stream, tf.int64),
                    tf.cast(step, tf.int64)])
    if kind == "uniform":
        return tf.random.stateless_uniform(shape, seed=key)
    return tf.random.stateless_normal(shape, seed=key)


def draw_options(log_probabilities, num_rows, key):
    """`num_rows` option indices (positions in the conditional vector) drawn from
    `log_probabilities`; `key` is a stateless seed pair."""
    return tf.random.stateless_categorical(
        tf.reshape(tf.cast(log_probabilities, tf.float32), [1, -1]), num_rows, seed=key,
        dtype=tf.int32)[0]


def option_log_probabilities(condition_counts, condition_widths, log_frequency=True):
    """log P(option) for the conditional vector: a discrete column chosen uniformly, then one
    of its categories by log(1 + count) (training-by-sampling) or by count (sampling rows
    like the table's). Categories never seen get probability 0."""
    counts = np.asarray(condition_counts, np.float64)
    probabilities = np.zeros_like(counts)
    start = 0
    for width in condition_widths:
        part = counts[start:start + width]
        weights = np.log1p(part) if log_frequency else part
        probabilities[start:start + width] = weights / weights.sum() / len(condition_widths)
        start += width
    with np.errstate(divide="ignore"):
        return np.log(probabilities).astype(np.float32)


def packed_gradient_penalty(critic, real_rows, fake_rows, mix, pac, epsilon=1e-12):
    """WGAN-GP on packs: `E[(||grad C(x_hat)||_2 - 1)^2]`, the norm over each pack's rows.

    `mix` holds one U(0, 1) per pack (`batch / pac`); `critic` maps rows to pack scores.
    """
    u = tf.repeat(tf.cast(mix, tf.float32), pac)[:, None]
    mixed = real_rows + u * (fake_rows - real_rows)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    gradients = tf.reshape(tape.gradient(scores, mixed), [-1, pac * mixed.shape[-1]])
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=1) + epsilon)
    return tf.reduce_mean(tf.square(norms - 1.0))


@keras.saving.register_keras_serializable(package="gan_tf")
class TableGAN(gan_lib.GAN):
    """A conditional tabular GAN (CTGAN's recipe) trained by `fit`.

    Example:

    ```python
    transformer = TableTransformer(infer_schema(frame)).fit(frame)
    rows = transformer.transform(frame)
    gan = TableGAN.build(transformer, rows, seed=0)
    gan.compile()
    gan.fit(gan.step_dataset(batch_size=500), epochs=300)
    frame = transformer.inverse_transform(gan.sample(1000, seed=1))
    ```

    Args:
        generator: a `TableGenerator` (raw outputs of `transformer.output_dim`).
        discriminator: a `TableCritic` (packs of rows and conditions to scores).
        transformer: the fitted transformer's JSON state (`TableTransformer.to_json()`).
        condition_counts: training rows per position of the conditional vector.
        seed: seed of every draw of training. Defaults to 0.
        condition_loss: weight of the generator's condition cross-entropy. Defaults to 1.
    """

    def __init__(self, generator, discriminator, transformer, condition_counts, seed=0,
                 condition_loss=1.0, latent_dim=None, **kwargs):
        super().__init__(generator, discriminator, seed=seed, latent_dim=latent_dim, **kwargs)
        self.transformer_state = transformer if isinstance(transformer, dict) else (
            transformer.to_json())
        self.transformer = TableTransformer.from_json(self.transformer_state)
        self.spans = self.transformer.spans
        self.condition_spans = self.transformer.condition_spans
        self.condition_dim = self.transformer.condition_dim
        self.condition_counts = [int(c) for c in condition_counts]
        if len(self.condition_counts) != self.condition_dim:
            raise invalid("condition_counts", f"{len(self.condition_counts)} counts",
                          f"{self.condition_dim}, one per position of the conditional vector")
        self.condition_loss_weight = float(condition_loss)
        self.pac = int(discriminator.pac)
        widths = [span.width for span in self.condition_spans]
        self.training_log_probabilities = tf.constant(
            option_log_probabilities(self.condition_counts, widths, log_frequency=True))
        self.sampling_log_probabilities = tf.constant(
            option_log_probabilities(self.condition_counts, widths, log_frequency=False))
        self.condition_loss_tracker = keras.metrics.Mean(name="condition_loss")
        self._rows = gan_lib._Holder()

    def check_networks(self, generator, discriminator):
        """A generator of raw rows and a critic of packed rows, for the same row width and
        conditional vector (the image GAN's checks do not apply: two inputs, no labels)."""
        for name, network in (("generator", generator), ("discriminator", discriminator)):
            if not hasattr(network, "data_dim") or not hasattr(network, "condition_dim"):
                raise invalid(name, type(network).__name__,
                              "a gan_tf.tables.networks TableGenerator / TableCritic")
        if (generator.data_dim, generator.condition_dim) != (
                discriminator.data_dim, discriminator.condition_dim):
            raise invalid("discriminator", f"a critic of rows {discriminator.data_dim} wide "
                          f"with a conditional vector of {discriminator.condition_dim}",
                          f"rows {generator.data_dim} wide and a conditional vector of "
                          f"{generator.condition_dim}, the generator's")

    @classmethod
    def build(cls, transformer, rows, seed=0, latent_dim=networks.LATENT_DIM,
              generator_dims=networks.HIDDEN_DIMS, critic_dims=networks.HIDDEN_DIMS,
              pac=networks.PAC, dropout=networks.DROPOUT, condition_loss=1.0, counts=None):
        """A new TableGAN for `transformer` (fitted) with the training rows `rows`.

        The initial weights come from `seed` (through `keras.utils.set_random_seed`, which
        also seeds Python's and NumPy's global generators), so the same seed builds the same
        networks. For a streamed table pass `rows=None` and the training rows per position
        of the conditional vector as `counts`; `fit` then reads batches of
        `gan_tf.tables.stream.StreamedRows.dataset`.
        """
        keras.utils.set_random_seed(seed)
        generator = networks.TableGenerator(transformer.output_dim, transformer.condition_dim,
                                            latent_dim, generator_dims, name="generator")
        critic = networks.TableCritic(transformer.output_dim, transformer.condition_dim, pac,
                                      critic_dims, dropout, seed=seed, name="discriminator")
        if rows is None:
            return cls(generator, critic, transformer.to_json(), counts, seed=seed,
                       condition_loss=condition_loss)
        gan = cls(generator, critic, transformer.to_json(), condition_counts(transformer, rows),
                  seed=seed, condition_loss=condition_loss)
        gan.set_training_rows(rows)
        return gan

    def compile(self, generator_optimizer=None, discriminator_optimizer=None,
                loss="wasserstein", gradient_penalty=GRADIENT_PENALTY, **kwargs):
        """The paper's settings by default: WGAN-GP (weight 10), Adam(2e-4, 0.5, 0.9) each."""
        generator_optimizer = generator_optimizer or keras.optimizers.Adam(
            LEARNING_RATE, beta_1=BETA_1, beta_2=BETA_2)
        discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(
            LEARNING_RATE, beta_1=BETA_1, beta_2=BETA_2)
        super().compile(generator_optimizer, discriminator_optimizer, loss=loss,
                        gradient_penalty=gradient_penalty, **kwargs)

    # --- the training rows -------------------------------------------------------------------

    def set_training_rows(self, rows):
        """Holds the transformed training rows and, per option, the rows that have it."""
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.transformer.output_dim:
            raise invalid("rows", f"an array of shape {rows.shape}",
                          f"(num_rows, {self.transformer.output_dim}) transformed rows")
        if self.condition_dim:
            indicators = np.concatenate([rows[:, s.start:s.end] for s in self.condition_spans],
                                        axis=1) > 0.5
            option_rows = [np.flatnonzero(indicators[:, o]) for o in range(self.condition_dim)]
            counts = np.array([len(r) for r in option_rows])
            if counts.tolist() != self.condition_counts:
                raise UserError("The training rows are not those the TableGAN was made for "
                                "(their category counts differ). Resume with the run's own "
                                "training rows (gan_tf.tables.data.read_run_splits).")
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            flat = np.concatenate(option_rows).astype(np.int32)
        else:
            counts, starts, flat = np.zeros(0), np.zeros(0), np.zeros(0, np.int32)
        self._rows.model = {
            "rows": tf.constant(rows), "option_rows": tf.constant(flat),
            "option_starts": tf.constant(starts, tf.int32),
            "option_counts": tf.constant(counts, tf.int32), "num_rows": len(rows)}

    def step_dataset(self, batch_size, steps=None):
        """What `fit` iterates: one small tensor per step (its batch size is the step's).

        The rows themselves are drawn inside `train_step` (training-by-sampling), so the
        dataset only counts steps: `steps` per epoch, by default `max(1, rows // batch)`.
        """
        check_positive_int("batch_size", batch_size)
        if batch_size % self.pac:
            raise invalid("batch_size", batch_size,
                          f"a multiple of pac={self.pac} (the critic judges packs of rows)")
        if steps is None:
            steps = max(1, self._training_rows()["num_rows"] // batch_size)
        options = tf.data.Options()  # under a strategy, each replica takes its slice
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return tf.data.Dataset.from_tensors(tf.zeros((batch_size, 1))).repeat(
            steps).with_options(options)

    def _training_rows(self):
        if self._rows.model is None:
            raise UserError("The TableGAN has no training rows: call set_training_rows(rows) "
                            "(the transformed rows it trains on) before fit.")
        return self._rows.model

    # --- one step ----------------------------------------------------------------------------

    def _conditions(self, options, batch_size):
        if not self.condition_dim:
            return tf.zeros((batch_size, 0), tf.float32)
        return tf.one_hot(options, self.condition_dim, dtype=tf.float32)

    def _key(self, stream, step):
        return tf.stack([tf.constant(self.seed * NUM_STREAMS + stream, tf.int64),
                         tf.cast(step, tf.int64)])

    def _draw(self, stream, step, batch_size, shape=(), kind="normal"):
        """This replica's slice of `table_draw` for the global batch: every replica draws
        the global batch's values and keeps its own rows, so a run on several replicas or
        workers sees the draws of a one-device run with the same global batch."""
        replicas, replica = _replicas()
        values = table_draw(self.seed, stream, step, [batch_size * replicas] + list(shape),
                            kind)
        start = replica * batch_size
        return values[start:start + batch_size]

    def _draw_options(self, stream, step, batch_size):
        """This replica's slice of the global batch's conditional-vector options."""
        replicas, replica = _replicas()
        options = draw_options(self.training_log_probabilities, batch_size * replicas,
                               self._key(stream, step))
        start = replica * batch_size
        return options[start:start + batch_size]

    def sampled_positions(self, counts, starts, num_rows, batch_size, step):
        """Training-by-sampling's draw for a step: `(options, positions)`, the conditional
        vector's options (None without discrete columns) and, per row, its position in the
        per-option row index (`starts[option]` + a uniform pick among `counts[option]`
        rows), or the row itself without discrete columns. In memory (`_real_batch`) and for
        a streamed table (`stream.StreamedRows`) alike."""
        uniforms = self._draw(D_ROWS, step, batch_size, kind="uniform")
        if not self.condition_dim:
            return None, tf.cast(uniforms * num_rows, starts.dtype)
        options = self._draw_options(D_OPTIONS, step, batch_size)
        chosen = tf.gather(counts, options)
        within = tf.minimum(tf.cast(uniforms * tf.cast(chosen, tf.float32), chosen.dtype),
                            chosen - 1)
        return options, tf.gather(starts, options) + tf.cast(within, starts.dtype)

    def _real_batch(self, batch_size, step):
        """Training-by-sampling: the conditions and the real rows that match them."""
        data = self._training_rows()
        options, positions = self.sampled_positions(
            data["option_counts"], data["option_starts"], data["num_rows"], batch_size, step)
        index = positions if options is None else tf.gather(data["option_rows"], positions)
        return self._conditions(options, batch_size), tf.gather(data["rows"], index)

    def _fake_rows(self, conditions, latent_stream, gumbel_stream, step, batch_size):
        latents = self._draw(latent_stream, step, batch_size, [self.latent_dim])
        raw = self.generator([latents, conditions], training=True)
        uniforms = self._draw(gumbel_stream, step, batch_size, [self.transformer.output_dim],
                              "uniform")
        return raw, networks.activate(raw, self.spans, uniforms)

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        # Critic step: real rows with their conditions against generated rows given the same.
        step = self.discriminator_optimizer.iterations
        if isinstance(data, dict):  # a streamed table: the input pipeline drew them
            conditions, real_rows = data["conditions"], data["rows"]
            batch_size = tf.shape(real_rows)[0]
        else:
            batch_size = tf.shape(data)[0]
            conditions, real_rows = self._real_batch(batch_size, step)
        with tf.GradientTape() as tape:
            _, fake_rows = self._fake_rows(conditions, D_LATENTS, D_GUMBEL, step, batch_size)
            real_scores = self.discriminator([real_rows, conditions], training=True)
            fake_scores = self.discriminator([fake_rows, conditions], training=True)
            d_loss = self.discriminator_loss_fn(real_scores, fake_scores)
            mix = self._draw(D_MIX, step, batch_size // self.pac, kind="uniform")
            penalty = packed_gradient_penalty(
                lambda rows: self.discriminator([rows, conditions], training=True),
                real_rows, fake_rows, mix, self.pac)
            total = d_loss + self.gradient_penalty_weight * penalty
            scaled = self._scaled(self.discriminator_optimizer, total, replicas)
        self._apply(self.discriminator_optimizer, scaled, tape,
                    self.discriminator.trainable_variables, self.d_grad_norm_tracker)
        self.d_loss_tracker.update_state(d_loss)
        self.gradient_penalty_tracker.update_state(penalty)

        # Generator step: fresh conditions (log-frequency), the critic's score and the
        # cross-entropy between each condition and the generator's output for its column.
        step = self.generator_optimizer.iterations
        options = (self._draw_options(G_OPTIONS, step, batch_size)
                   if self.condition_dim else None)
        conditions = self._conditions(options, batch_size)
        with tf.GradientTape() as tape:
            raw, fake_rows = self._fake_rows(conditions, G_LATENTS, G_GUMBEL, step, batch_size)
            g_loss = self.generator_loss_fn(
                self.discriminator([fake_rows, conditions], training=True))
            if self.condition_dim:
                log_probabilities = networks.condition_log_probabilities(
                    raw, self.condition_spans)
                condition_loss = -tf.reduce_mean(
                    tf.reduce_sum(conditions * log_probabilities, axis=1))
            else:
                condition_loss = tf.constant(0.0)
            total = g_loss + self.condition_loss_weight * condition_loss
            scaled = self._scaled(self.generator_optimizer, total, replicas)
        self._apply(self.generator_optimizer, scaled, tape, self.generator.trainable_variables,
                    self.g_grad_norm_tracker)
        self.g_loss_tracker.update_state(g_loss)
        self.condition_loss_tracker.update_state(condition_loss)
        return gan_lib.fit_logs({metric.name: metric.result() for metric in self.metrics})

    @property
    def metrics(self):
        metrics = [self.d_loss_tracker, self.g_loss_tracker, self.gradient_penalty_tracker,
                   self.condition_loss_tracker]
        if self._tracks_gradients():
            metrics += [self.d_grad_norm_tracker, self.g_grad_norm_tracker]
        return metrics

    # --- sampling ----------------------------------------------------------------------------

    def sample_conditions(self, num_rows, seed=0, options=None):
        """Conditional vectors `(num_rows, condition_dim)`: `options` (one position of the
        conditional vector, or one per row) exactly, or by default drawn like the table's
        rows (a discrete column uniformly, then a category by its frequency)."""
        if not self.condition_dim:
            return tf.zeros((num_rows, 0), tf.float32)
        if options is None:
            key = tf.constant([seed, 2], tf.int64)
            options = draw_options(self.sampling_log_probabilities, num_rows, key)
        else:
            options = np.broadcast_to(np.asarray(options, np.int32), (num_rows,))
        return self._conditions(tf.constant(options, tf.int32), num_rows)

    def sample(self, num_rows, seed=0, options=None, batch_size=500):
        """`num_rows` generated rows in the transformer's representation (numpy), a pure
        function of (weights, seed, options): latents from `seed`, categories drawn from the
        generator's softmax with Gumbel noise from `seed` (hard one-hots)."""
        check_positive_int("num_rows", num_rows)
        conditions = self.sample_conditions(num_rows, seed, options)
        latents = gan_lib.sample_latents(num_rows, self.latent_dim, seed)
        uniforms = tf.random.stateless_uniform([num_rows, self.transformer.output_dim],
                                               seed=tf.constant([seed, 1], tf.int64))
        generator = self.sampling_generator()
        parts = []
        for start in range(0, num_rows, batch_size):
            end = start + batch_size
            raw = generator([latents[start:end], conditions[start:end]], training=False)
            parts.append(networks.activate(raw, self.spans, uniforms[start:end], hard=True))
        rows = np.concatenate([np.asarray(p) for p in parts])
        if options is not None:
            rows = self.impose_conditions(rows, np.asarray(conditions))
        return rows

    def condition_positions(self):
        """For each position of the conditional vector, the row entries of its column's
        category span (`(condition_dim, output_dim)` 0/1) and its own entry (one-hot)."""
        spans = np.zeros((self.condition_dim, self.transformer.output_dim), np.float32)
        entries = np.zeros_like(spans)
        offset = 0
        for span in self.condition_spans:
            for k in range(span.width):
                spans[offset + k, span.start:span.end] = 1.0
                entries[offset + k, span.start + k] = 1.0
            offset += span.width
        return spans, entries

    def impose_conditions(self, rows, conditions):
        """Rows whose conditioned column is exactly its condition (the generator, given the
        condition, follows it up to its condition loss; this makes it exact)."""
        spans, entries = self.condition_positions()
        return rows * (1.0 - conditions @ spans) + conditions @ entries

    def sample_frame(self, num_rows, seed=0, options=None):
        """`num_rows` generated rows as a DataFrame with the table's columns and dtypes."""
        return self.transformer.inverse_transform(self.sample(num_rows, seed, options))

    def generate(self, num_images, seed=0, batch_size=500, labels=None):
        """The generic name of `sample` (rows, not images; `labels` are not used)."""
        if labels is not None:
            raise invalid("labels", labels, "None: pass options to TableGAN.sample")
        return self.sample(num_images, seed, batch_size=batch_size)

    def checkpoint_items(self):
        items = super().checkpoint_items()
        items["critic_random_state"] = [v.value for v in self.discriminator.random_state()]
        return items

    def get_config(self):
        config = super().get_config()
        config.update({"transformer": self.transformer_state,
                       "condition_counts": self.condition_counts,
                       "condition_loss": self.condition_loss_weight})
        return config


def _replicas():
    """(replicas in sync, this replica's index) inside `train_step` (1, 0 on one device)."""
    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    replica = context.replica_id_in_sync_group if context is not None else 0
    return replicas, tf.cast(replica, tf.int32)


def condition_counts(transformer, rows):
    """Rows having each position of the conditional vector (one-hot category spans)."""
    rows = np.asarray(rows)
    return [int(count) for span in transformer.condition_spans
            for count in (rows[:, span.start:span.end] > 0.5).sum(axis=0)]


def frame_condition_counts(transformer, frame):
    """`condition_counts` from an untransformed frame: rows per category (and per missing
    slot) of each discrete column, in the conditional vector's order."""
    from gan_tf.tables.schema import column_values_as_strings

    counts = []
    for span in transformer.condition_spans:
        column = transformer.schema.column(span.column)
        values = column_values_as_strings(frame[span.column])
        tally = {category: 0 for category in column.categories}
        missing = 0
        for value in values:
            if value is None:
                missing += 1
            else:
                tally[value] = tally.get(value, 0) + 1
        counts += [tally[category] for category in column.categories]
        counts += [missing] * (span.width - len(column.categories))
    return counts
