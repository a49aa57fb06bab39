"""Generated, labelled data for another model: a conditional GAN feeds a Keras classifier.

    python examples/labelled_data_for_a_classifier.py [OUTPUT_DIR] [EPOCHS]

Trains a class-conditional GAN on 500 embedded digits (the design note's MLP, fast on a
CPU), writes 2,000 generated digits as a labelled PNG dataset (one folder per class, with a
manifest), reads it back with `keras.utils.image_dataset_from_directory` and trains a small
classifier on it, tested on real digits the GAN never saw. `python -m gan_tf.evaluate
--downstream` is the measured version of this workflow (see docs/evaluation.md).
"""

import json
import os
import sys

import keras
import numpy as np

from gan_tf import data, generate_lib, train_lib
from gan_tf.config import TrainConfig


def main(output_dir="/tmp/gan_tf_labelled_data", epochs=200):
    # 1. A conditional GAN on 500 real digits (rerunning the script resumes or reuses it).
    config = TrainConfig(architecture="mlp", conditional=True, max_examples=500, epochs=epochs,
                         eval_every_n_epochs=0, output_dir=os.path.join(output_dir, "run"))
    train_lib.train(config, verbose=0)

    # 2. 2,000 labelled digits, 200 per class, as PNG class folders + manifest.json.
    synthetic = os.path.join(output_dir, "synthetic")
    if not os.path.exists(synthetic):
        sampler = generate_lib.load_sampler(config.output_dir)
        generate_lib.write_dataset(sampler, synthetic, num_images=2000, format="png", seed=1)
    manifest = json.load(open(os.path.join(synthetic, "manifest.json")))
    print("generated per class:", manifest["counts"])

    # 3. Any Keras project can read it: labels are the class folders.
    train = keras.utils.image_dataset_from_directory(
        synthetic, image_size=(28, 28), color_mode="grayscale", batch_size=64, seed=0)
    classifier = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 127.5, offset=-1),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10)])
    classifier.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    classifier.fit(train, epochs=3, verbose=0)

    # 4. Tested on the 4,500 real digits the GAN did not train on.
    digits = data.load_embedded_mnist()
    used = data.subset_indices(digits.labels, len(digits), 500, seed=0)
    test = np.setdiff1d(np.arange(len(digits)), used)
    accuracy = classifier.evaluate(digits.images[test].astype("float32"),
                                   digits.labels[test], verbose=0)[1]
    print(f"classifier trained on generated digits only: {accuracy:.1%} on real test digits")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []), *[int(a) for a in sys.argv[2:3]])
