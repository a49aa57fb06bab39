"""gan_tf's callbacks in another Keras project: a variational autoencoder (no gan_tf.GAN).

    python examples/callbacks_in_keras_project.py [OUTPUT_DIR] [EPOCHS]

`SampleGrid` draws the VAE's decoder on fixed latents every epoch, `ResumableCheckpoint`
saves the model and its optimizer (run the script again to resume), `MetricsLog` writes
metrics.jsonl and a plot. The VAE itself is the keras-io recipe, shortened.
"""

import os
import sys

import keras
import numpy as np
import tensorflow as tf

from gan_tf import callbacks
from gan_tf.data import load_images, to_float

LATENT_DIM = 8


class VAE(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = keras.Sequential([
            keras.Input((28, 28, 1)), keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"), keras.layers.Dense(2 * LATENT_DIM)])
        self.decoder = keras.Sequential([
            keras.Input((LATENT_DIM,)), keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(784, activation="tanh"), keras.layers.Reshape((28, 28, 1))])
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, images):
        with tf.GradientTape() as tape:
            mean, log_var = tf.split(self.encoder(images, training=True), 2, axis=-1)
            codes = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
            reconstruction = self.decoder(codes, training=True)
            error = tf.reduce_sum(tf.square(images - reconstruction), axis=[1, 2, 3])
            kl = -0.5 * tf.reduce_sum(1 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)
            loss = tf.reduce_mean(error + kl)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def main(output_dir="/tmp/gan_tf_vae", epochs=5):
    digits = to_float(load_images(max_examples=2000).images)
    vae = VAE()
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.optimizer.build(vae.trainable_variables)  # so a restore fills its slots

    checkpoint = callbacks.ResumableCheckpoint(
        os.path.join(output_dir, "checkpoints"), items={"vae": vae, "optimizer": vae.optimizer})
    start = checkpoint.restore()
    vae.fit(digits, epochs=epochs, initial_epoch=start, batch_size=64, verbose=2, callbacks=[
        callbacks.SampleGrid(os.path.join(output_dir, "samples"), generator=vae.decoder,
                             num_rows=6, num_cols=6,
                             gif_path=os.path.join(output_dir, "progress.gif")),
        callbacks.MetricsLog(os.path.join(output_dir, "metrics.jsonl"),
                             plot_path=os.path.join(output_dir, "loss.png")),
        checkpoint,
    ])
    print(f"Samples in {os.path.join(output_dir, 'samples')}: "
          f"{sorted(os.listdir(os.path.join(output_dir, 'samples')))}; final loss "
          f"{np.round(float(vae.loss_tracker.result()), 2)}")


if __name__ == "__main__":
    main(*(sys.argv[1:2]), *(int(a) for a in sys.argv[2:3]))
