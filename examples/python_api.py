"""The Python API end to end: data, networks, GAN, callbacks, fit, samples, export.

    python examples/python_api.py [OUTPUT_DIR] [EPOCHS]

Trains the design note's MLP pair on 1,000 embedded digits (a few seconds an epoch on a CPU),
then generates images and reloads the exported generator with TensorFlow alone.
"""

import os
import sys

import keras
import tensorflow as tf

from gan_tf import callbacks, data, export_lib, networks
from gan_tf.gan import GAN


def main(output_dir="/tmp/gan_tf_python_api", epochs=5):
    digits = data.load_images("embedded_mnist", max_examples=1000)  # uint8, 100 per class
    gan = GAN(networks.MLPGenerator(latent_dim=100, image_shape=digits.image_shape),
              networks.MLPDiscriminator(image_shape=digits.image_shape))
    gan.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                loss="minimax")  # the design note's objective; "non_saturating" is the default

    checkpoint = callbacks.ResumableCheckpoint(os.path.join(output_dir, "checkpoints"))
    start = checkpoint.restore(gan)  # 0 on a new run; run the script again to resume
    # Batches are a function of (seed, epoch): a resumed run gets exactly the batches it
    # would have had without the interruption.
    dataset, steps = data.make_dataset(digits, batch_size=64, seed=0, start_epoch=start,
                                       end_epoch=epochs)
    gan.fit(dataset, epochs=epochs, initial_epoch=start, steps_per_epoch=steps, verbose=2,
            callbacks=[callbacks.SampleGrid(os.path.join(output_dir, "samples")),
                       callbacks.MetricsLog(os.path.join(output_dir, "metrics.jsonl")),
                       checkpoint])

    images = gan.generate(16, seed=1)  # numpy float32 in [-1, 1], (16, 28, 28, 1)
    path = export_lib.export_generator(gan.generator, os.path.join(output_dir, "generator"))
    reloaded = tf.saved_model.load(path)  # needs only TensorFlow
    same = reloaded.signatures["generate"](num_images=tf.constant(16),
                                           seed=tf.constant(1, tf.int64))["images"]
    print(f"Generated {images.shape}; exported to {path}; the export gives the same images: "
          f"{bool(abs(same.numpy() - images).max() < 1e-5)}")


if __name__ == "__main__":
    main(*(sys.argv[1:2]), *(int(a) for a in sys.argv[2:3]))
