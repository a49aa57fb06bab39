"""Inpainting: GAIN's convolutional networks and the holes cut in images.

The images (`gan_tf.data.load_images`: the embedded digits, `folder:PATH`, `array:PATH`) are
mapped to [0, 1], holes are cut in them (`--mask=square`: a square of 40% of the side at a
seeded random place in each image; `--mask=pixels`: `--missing_rate` of the pixels), and a
`GainImputer` with the networks below learns to fill them from the masked images alone (the
true pixels under the holes are never shown to it). The output folder holds
    grid.png       rows of 8 images spread over the dataset: masked (holes in mid-grey),
                   filled, true; twice
    filled.npz     `images` (uint8, holes filled), `mask` (uint8, 1 observed), `true` (uint8)
    report.json    RMSE over the hidden pixels (in [0, 1]) of the GAN and of a per-pixel mean
and the run directory (OUTPUT + `_run`) the checkpoints, metrics and exported imputer
(`impute_lib.impute_images` writes them).
"""

import keras
import numpy as np

from gan_tf.imputation.gain import joined_stack
from gan_tf.errors import check_positive_int

SQUARE_SIDE = 0.4  # the side of a square hole, as a share of the image's shorter side
GRID_COLUMNS = 8
GRID_GROUPS = 2  # (masked, filled, true) row triples in the grid


def _conv(filters, dilation, seed, index, activation="relu"):
    return keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation,
                               activation=activation,
                               kernel_initializer=keras.initializers.HeNormal(seed * 16 + index))


@keras.saving.register_keras_serializable(package="gan_tf")
class ConvGainGenerator(keras.Model):
    """GAIN's generator for images: `[values, mask]` -> every pixel proposed, in [0, 1].

    3x3 convolutions with dilations 1, 2, 4, 8, 1 (a 31-pixel receptive field at any image
    size, no resampling) and a 1x1 sigmoid output per channel.

    Args:
        image_shape: `(height, width, channels)`.
        filters: channels of the hidden layers. Defaults to 16.
        seed: seed of the initial weights. Defaults to 0.
    """

    def __init__(self, image_shape, filters=16, seed=0, **kwargs):
        image_shape = tuple(int(d) for d in image_shape)
        check_positive_int("filters", filters)
        # === Layers ===
        hidden = [_conv(filters, d, seed, i) for i, d in enumerate((1, 2, 4, 8, 1))]
        output = keras.layers.Conv2D(image_shape[-1], 1, activation="sigmoid",
                                     kernel_initializer=keras.initializers.HeNormal(seed * 16
                                                                                    + 5))
        # === Functional Model ===
        values = keras.Input(image_shape, name="values")
        mask = keras.Input(image_shape, name="mask")
        outputs = joined_stack([values, mask], [*hidden, output])
        super().__init__(inputs=[values, mask], outputs=outputs, **kwargs)
        # === Config ===
        self.image_shape = image_shape
        self.filters = filters
        self.seed = seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "filters": self.filters,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="gan_tf")
class ConvGainDiscriminator(keras.Model):
    """GAIN's discriminator for images: `[completed, hint]` -> a logit per pixel and channel.

    3x3 LeakyReLU convolutions with dilations 1, 2, 4 and a 1x1 output (no sigmoid).

    Args:
        image_shape: `(height, width, channels)`.
        filters: channels of the hidden layers. Defaults to 16.
        seed: seed of the initial weights. Defaults to 0.
    """

    def __init__(self, image_shape, filters=16, seed=0, **kwargs):
        image_shape = tuple(int(d) for d in image_shape)
        check_positive_int("filters", filters)
        # === Layers ===
        hidden = [_conv(filters, d, seed, 8 + i, activation=keras.activations.leaky_relu)
                  for i, d in enumerate((1, 2, 4))]
        output = keras.layers.Conv2D(image_shape[-1], 1,
                                     kernel_initializer=keras.initializers.HeNormal(seed * 16
                                                                                    + 11))
        # === Functional Model ===
        values = keras.Input(image_shape, name="values")
        hint = keras.Input(image_shape, name="hint")
        outputs = joined_stack([values, hint], [*hidden, output])
        super().__init__(inputs=[values, hint], outputs=outputs, **kwargs)
        # === Config ===
        self.image_shape = image_shape
        self.filters = filters
        self.seed = seed

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "filters": self.filters,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def pixel_mean_fill(images, mask):
    """`images` with each hidden pixel (mask 0) set to that pixel's mean over the images
    where it is observed (0 where it never is): the plain fill the GAN is compared with."""
    observed = mask > 0
    pixel_mean = np.where(observed, images, 0.0).sum(axis=0) / np.maximum(
        observed.sum(axis=0), 1)
    return np.where(observed, images, pixel_mean[None])


def image_masks(shape, kind="square", rate=0.25, seed=0):
    """float32 masks of `shape` `(N, H, W, C)`, 1 observed and 0 hidden, the same in every
    channel: a square hole of `SQUARE_SIDE` of the shorter side per image, or `rate` of the
    pixels at random."""
    count, height, width, channels = shape
    rng = np.random.default_rng(seed)
    if kind == "pixels":
        mask = (rng.random((count, height, width, 1)) >= rate).astype(np.float32)
    else:
        side = max(1, int(round(SQUARE_SIDE * min(height, width))))
        mask = np.ones((count, height, width, 1), np.float32)
        tops = rng.integers(0, height - side + 1, count)
        lefts = rng.integers(0, width - side + 1, count)
        for index, (top, left) in enumerate(zip(tops, lefts)):
            mask[index, top:top + side, left:left + side] = 0.0
    return np.repeat(mask, channels, axis=3)
