"""The exported table generator: a SavedModel that returns decoded columns, TensorFlow alone.

Two signatures, each returning one tensor per column under the column's name (numbers as
float64, NaN where missing; categorical and boolean columns as strings, "" where missing):

- `serve(z, condition, seed)`: rows for the latents `z` (`(n, latent_dim)`, standard normal)
  and the conditional vectors `condition` (`(n, condition_dim)`: a one-hot of one
  column = value per row, or zeros; the column listed at position i of `gan_tf.json`'s
  "condition" list), categories drawn with Gumbel noise from `seed`. A row's conditioned
  column takes exactly its condition.
- `generate(num_rows, seed)`: `num_rows` rows from `seed` alone, as
  `gan_tf.tables.sampling.sample_rows(run, num_rows, seed)` gives them.

```python
import tensorflow as tf
model = tf.saved_model.load("runs/patients-ctgan/generator")
columns = model.signatures["generate"](num_rows=tf.constant(5), seed=tf.constant(0, tf.int64))
columns["age"], columns["city"]
```
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf.files import replace_directory, staging_directory
from gan_tf.gan import sample_latents
from gan_tf.runs import EXPORT_METADATA_FILE
from gan_tf.tables import networks
from gan_tf.tables.model import draw_options


def decode_tensors(rows, transformer):
    """Rows `(n, output_dim)` (hard one-hots) to `{column: tensor}`, as
    `TableTransformer.inverse_transform` decodes them: numbers float64 (integers rounded,
    NaN where missing), categories as strings ("" where missing)."""
    columns = {}
    for column in transformer.schema.columns:
        spans = transformer.column_spans(column.name)
        if column.discrete:
            span = spans[0]
            names = tf.constant(list(column.categories) + [""])
            index = tf.argmax(rows[:, span.start:span.end], axis=1)
            columns[column.name] = tf.gather(names, tf.minimum(index, len(column.categories)))
            continue
        state = transformer.modes[column.name]
        means = tf.constant(np.asarray(state["means"], np.float64))
        stds = tf.constant(np.asarray(state["stds"], np.float64))
        value_span, mode_span = spans[0], spans[1]
        mode = tf.argmax(rows[:, mode_span.start:mode_span.end], axis=1)
        alpha = tf.clip_by_value(tf.cast(rows[:, value_span.start], tf.float64), -1.0, 1.0)
        values = alpha * 4.0 * tf.gather(stds, mode) + tf.gather(means, mode)
        values = tf.clip_by_value(values, column.minimum, column.maximum)
        if column.kind == "integer":
            values = tf.round(values)
        if len(spans) > 2:
            missing = tf.argmax(rows[:, spans[2].start:spans[2].end], axis=1) == 1
            values = tf.where(missing, tf.constant(np.nan, tf.float64), values)
        columns[column.name] = values
    return columns


def condition_layout(transformer):
    """`[[column, value], ...]`: what each position of the conditional vector means (value
    None for a column's missing slot)."""
    layout = []
    for span in transformer.condition_spans:
        categories = list(transformer.schema.column(span.column).categories)
        layout += [[span.column, value] for value in categories]
        layout += [[span.column, None]] * (span.width - len(categories))
    return layout


def export_table_generator(gan, path):
    """Writes `gan`'s sampling generator with decoding as a SavedModel at `path` (replacing
    an older export only once the new one is written). Returns `path`."""
    generator = gan.sampling_generator()
    transformer = gan.transformer
    spans, latent_dim, width = gan.spans, gan.latent_dim, transformer.output_dim
    condition_dim = gan.condition_dim
    span_matrix, entry_matrix = (tf.constant(m) for m in gan.condition_positions())
    sampling = gan.sampling_log_probabilities

    def rows_of(z, condition, seed):
        raw = generator([z, condition], training=False)
        uniforms = tf.random.stateless_uniform(
            [tf.shape(z)[0], width], seed=tf.stack([tf.cast(seed, tf.int64),
                                                    tf.constant(1, tf.int64)]))
        return networks.activate(raw, spans, uniforms, hard=True)

    @tf.function(input_signature=[
        tf.TensorSpec([None, latent_dim], tf.float32, name="z"),
        tf.TensorSpec([None, condition_dim], tf.float32, name="condition"),
        tf.TensorSpec([], tf.int64, name="seed")])
    def serve(z, condition, seed):
        rows = rows_of(z, condition, seed)
        if condition_dim:
            rows = rows * (1.0 - condition @ span_matrix) + condition @ entry_matrix
        return decode_tensors(rows, transformer)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_rows"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def generate(num_rows, seed):
        z = sample_latents(num_rows, latent_dim, seed)
        if condition_dim:
            key = tf.stack([tf.cast(seed, tf.int64), tf.constant(2, tf.int64)])
            condition = tf.one_hot(draw_options(sampling, num_rows, key), condition_dim)
        else:
            condition = tf.zeros([num_rows, 0])
        return decode_tensors(rows_of(z, condition, seed), transformer)

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint("serve", serve)
    archive.add_endpoint("generate", generate)
    description = {
        "format": "savedmodel", "kind": "table", "latent_dim": int(latent_dim),
        "latent_distribution": "normal", "condition_dim": int(condition_dim),
        "condition": condition_layout(transformer),
        "signatures": {"serve": ["z", "condition", "seed"], "generate": ["num_rows", "seed"]},
        "schema": transformer.schema.to_json(),
    }
    path = os.path.abspath(path)
    from gan_tf.export_lib import _quiet_tensorflow_logs

    with staging_directory(path, "export") as staging, _quiet_tensorflow_logs():
        archive.write_out(staging, verbose=False)
        with open(os.path.join(staging, EXPORT_METADATA_FILE), "w", encoding="utf-8") as out:
            json.dump(description, out, indent=2)
        replace_directory(staging, path)
    return path
