"""Inpainting: GAIN with convolutional networks fills masked pixels or regions of images.

The images (`gan_tf.data.load_images`: the embedded digits, `folder:PATH`, `array:PATH`) are
mapped to [0, 1], holes are cut in them (`--mask=square`: a square of 40% of the side at a
seeded random place in each image; `--mask=pixels`: `--missing_rate` of the pixels), and a
`GainImputer` with the networks below learns to fill them from the masked images alone (the
true pixels under the holes are never shown to it). The output folder holds
    grid.png       rows of 8 images spread over the dataset: masked (holes in mid-grey),
                   filled, true; twice
    filled.npz     `images` (uint8, holes filled), `mask` (uint8, 1 observed), `true` (uint8)
    report.json    RMSE over the hidden pixels (in [0, 1]) of the GAN and of a per-pixel mean
and the run directory (OUTPUT + `_run`) the checkpoints, metrics and exported imputer.
"""

import json
import os

import keras
import numpy as np

from gan_tf import messages
from gan_tf.errors import UserError, check_positive_int
from gan_tf.files import atomic_write_bytes, atomic_write_text

SQUARE_SIDE = 0.4  # the side of a square hole, as a share of the image's shorter side
GRID_COLUMNS = 8
GRID_GROUPS = 2  # (masked, filled, true) row triples in the grid

_logger = messages.get_logger(__name__)


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
        x = keras.layers.Concatenate()([values, mask])
        for layer in hidden:
            x = layer(x)
        super().__init__(inputs=[values, mask], outputs=output(x), **kwargs)
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
        x = keras.layers.Concatenate()([values, hint])
        for layer in hidden:
            x = layer(x)
        super().__init__(inputs=[values, hint], outputs=output(x), **kwargs)
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


def impute_images(config):
    """Cuts holes in `config.dataset`'s images, fills them with GAIN, writes the output folder.

    Returns `{"paths": {...}, "rmse": {"gan": ..., "mean": ...}}`.
    """
    from gan_tf import data as data_lib
    from gan_tf import images as images_lib
    from gan_tf.imputation import training

    output = config.output
    if os.path.exists(output) and (not os.path.isdir(output) or (
            os.listdir(output) and not config.overwrite)):
        raise UserError(f"--output={output} exists and is not an empty folder; impute never "
                        "replaces files unless told to. Pass a new folder, or --overwrite.")
    data = data_lib.load_images(config.dataset, max_examples=config.max_examples,
                                seed=config.seed, cache="memory")
    true = np.asarray(data.images, np.float32) / 255.0
    mask = image_masks(true.shape, config.mask, config.missing_rate, config.seed)
    holed = np.where(mask > 0, true, np.nan).astype(np.float32)
    lock = training.open_run_dir(config.run_dir, config)
    try:
        imputer = training.train_imputer(
            holed, mask, seed=config.seed, iterations=config.iterations,
            batch_size=config.batch_size, hint_rate=config.hint_rate, alpha=config.alpha,
            run_dir=config.run_dir, drop_rate=config.drop_rate)
        training.export_imputer(imputer, os.path.join(config.run_dir, training.EXPORT_DIR),
                                metadata={"value_range": [0.0, 1.0],
                                          "dataset": config.dataset})
    finally:
        lock.release()
    filled = imputer.impute(holed, mask, seed=config.seed, batch_size=256)
    hidden = mask == 0
    observed_sum = np.where(mask > 0, true, 0.0).sum(axis=0)
    pixel_mean = observed_sum / np.maximum(mask.sum(axis=0), 1.0)
    mean_filled = np.where(mask > 0, true, pixel_mean[None])
    rmse = {"gan": float(np.sqrt(np.mean((filled[hidden] - true[hidden]) ** 2))),
            "mean": float(np.sqrt(np.mean((mean_filled[hidden] - true[hidden]) ** 2)))}
    os.makedirs(output, exist_ok=True)
    # Images spread over the dataset (a labelled one is ordered by class), in rows of 8.
    show = min(GRID_COLUMNS, len(true))
    groups = max(1, min(GRID_GROUPS, len(true) // show))
    picked = np.linspace(0, len(true) - 1, show * groups).round().astype(int)
    rows = []
    for group in np.split(picked, groups):
        rows += [np.where(mask[group] > 0, true[group], 0.5), filled[group], true[group]]
    grid = images_lib.make_grid(images_lib.to_uint8(np.concatenate(rows), (0.0, 1.0)),
                                num_rows=len(rows))
    paths = {"grid": os.path.join(output, "grid.png"),
             "arrays": os.path.join(output, "filled.npz"),
             "report": os.path.join(output, "report.json")}
    images_lib.save_png(grid, paths["grid"])
    buffer = _npz_bytes(images=images_lib.to_uint8(filled, (0.0, 1.0)),
                        mask=mask.astype(np.uint8), true=np.asarray(data.images, np.uint8))
    atomic_write_bytes(paths["arrays"], buffer)
    report = {"dataset": config.dataset, "images": len(true), "mask": config.mask,
              "hidden_share": float(hidden.mean()), "rmse_hidden_pixels": rmse,
              "iterations": config.iterations}
    atomic_write_text(paths["report"], json.dumps(report, indent=2) + "\n")
    _logger.info(f"Filled {int(hidden.sum())} hidden pixel values of {len(true)} images: RMSE "
                 f"{rmse['gan']:.4f} (per-pixel mean fill: {rmse['mean']:.4f}); wrote "
                 f"{paths['grid']}, {paths['arrays']}, {paths['report']} (run directory "
                 f"{config.run_dir}).")
    return {"paths": paths, "rmse": rmse}


def _npz_bytes(**arrays):
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
