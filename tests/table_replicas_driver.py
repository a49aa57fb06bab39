r"""A `TableGAN` trained on two replicas against the same on one device (a subprocess).

    python tests/table_replicas_driver.py

Splits the CPU into two logical devices (which must happen before TensorFlow starts, hence a
process of its own), trains the same TableGAN (dropout off, so every draw of a step is one
of `train_step`'s stateless draws) for 4 steps of a global batch of 100 on one device and
under a two-replica `MirroredStrategy`, and prints one JSON line: the largest weight
difference, and the same difference when both replicas take the same draws (what a run
whose replicas ignored their index would do), which shows the comparison tells them apart.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.experimental.enable_op_determinism()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gan_tf.tables import model as model_lib  # noqa: E402
from gan_tf.tables.schema import infer_schema  # noqa: E402
from gan_tf.tables.transformer import TableTransformer  # noqa: E402
from test_tables_schema import mixed_frame  # noqa: E402


def main():
    frame = mixed_frame(400)
    transformer = TableTransformer(infer_schema(frame, target="label")).fit(frame, seed=0)
    rows = transformer.transform(frame, seed=0)

    def weights(strategy):
        with strategy.scope():
            gan = model_lib.TableGAN.build(transformer, rows, seed=0, latent_dim=8, dropout=0.0)
            gan.compile()
        gan.fit(gan.step_dataset(100, 4), epochs=1, verbose=0, shuffle=False)
        return [w.numpy() for w in gan.generator.weights + gan.discriminator.weights]

    def largest_difference(one, other):
        return max(float(np.max(np.abs(a - b))) for a, b in zip(one, other))

    one_device = weights(tf.distribute.get_strategy())
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    replicas = largest_difference(one_device, weights(two))
    model_lib._replicas = lambda: (1, tf.constant(0))  # both replicas: the same draws
    same_draws = largest_difference(one_device, weights(two))
    print(json.dumps({"two_replicas": replicas, "same_draws_on_both": same_draws}))


if __name__ == "__main__":
    main()
