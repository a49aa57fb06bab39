"""`SampleGrid`: PNG grids of a generator's images from fixed latent vectors."""

import glob
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf import images as images_lib
from gan_tf.errors import UserError, check_positive_int, invalid
from gan_tf.files import atomic_write_bytes, npy_bytes
from gan_tf.gan import (call_sampler, check_sampling_options, class_labels, latent_dim_of,
                        latent_distribution_of, num_classes_of, numpy_latents)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of images generated from the same latent vectors every N epochs.

    The latent vectors are drawn once from `seed` (in the generator's latent distribution,
    `gan_tf.gan.latent_distribution_of`) and stored as `latents.npy` in `directory`;
    a later run (a resume) reads them back, so every grid of a run shows the same latents and
    the grids can be compared across epochs and restarts. Grids are written atomically as
    `epoch_0001.png`, ... and `final.png` when training ends. Optionally each grid also goes
    to TensorBoard as an image summary, and the epoch grids become an animated GIF at the end.

    A class-conditional generator (one with `num_classes`, taking `[latents, labels]`) gets
    row `r` of the grid drawn for class `r % num_classes`, unless `labels` says otherwise:
    pass `num_rows=num_classes` for one row per class.

    Example:
    ```python
    decoder = keras.Sequential([keras.Input((16,)), keras.layers.Dense(784, "tanh"),
                                keras.layers.Reshape((28, 28, 1))])
    grid = SampleGrid("/tmp/samples", generator=decoder, num_rows=4, num_cols=4)
    model.fit(x, y, epochs=10, callbacks=[grid])  # any model that trains `decoder`
    ```

    Args:
        directory: folder for the PNG files and `latents.npy`. Created if missing.
        generator: the model that maps latents to images. Defaults to
            `model.sampling_generator()` (a `gan_tf.GAN`: the EMA generator when it keeps
            one), else `model.generator`, else the model being trained.
        num_rows: rows of the grid. Defaults to 8.
        num_cols: columns of the grid. Defaults to 8.
        every_n_epochs: write a grid after every N-th epoch. Defaults to 1.
        seed: seed of the fixed latent vectors. Defaults to 0.
        value_range: the generator's output range, mapped to pixels 0..255.
            Defaults to (-1, 1) (tanh).
        gif_path: if set, write the epoch grids there as an animated GIF when training ends.
        tensorboard_dir: if set, also write each grid as an image summary in this folder.
        latent_dim: the generator's input size. Defaults to the size of its `keras.Input`;
            needed for a generator built without one.
        labels: for a class-conditional generator, the class of each of the
            `num_rows * num_cols` cells (row-major). Defaults to one class per row.
        sample_fn: `sample_fn(latents, labels) -> images`, for a generator called another
            way (e.g. one-hot labels concatenated to the latents); `labels` is None unless
            the generator is conditional (`num_classes`). Needs `latent_dim`.
        num_classes: classes of a conditional generator called through `sample_fn`.
            Defaults to the generator's `num_classes`, else none.
    """

    FINAL_FILE = "final.png"  # the grid written when training ends

    def __init__(self, directory, generator=None, num_rows=8, num_cols=8, every_n_epochs=1,
                 seed=0, value_range=(-1.0, 1.0), gif_path=None, tensorboard_dir=None,
                 latent_dim=None, labels=None, sample_fn=None, num_classes=None):
        super().__init__()
        check_sampling_options(sample_fn, latent_dim, num_classes)
        for name, value in (("num_rows", num_rows), ("num_cols", num_cols),
                            ("every_n_epochs", every_n_epochs)):
            check_positive_int(name, value)
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise invalid("value_range", value_range, "(low, high) with low < high")
        self.directory = os.fspath(directory)
        self.generator = generator
        self.num_rows = num_rows
        self.num_cols = num_cols
        self.every_n_epochs = every_n_epochs
        self.seed = seed
        self.value_range = tuple(value_range)
        self.gif_path = gif_path
        self.tensorboard_dir = tensorboard_dir
        self.latent_dim = latent_dim
        self.labels = labels
        self.sample_fn = sample_fn
        self.num_classes = num_classes
        self._writer = None
        self._latents = None
        self._last_epoch = None  # the last finished epoch seen in this fit
        self._last_written = None  # the last epoch whose grid was written

    @property
    def latents_path(self):
        return os.path.join(self.directory, "latents.npy")

    def _resolve_generator(self):
        if self.generator is not None:
            return self.generator
        sampling_generator = getattr(self.model, "sampling_generator", None)
        if callable(sampling_generator):
            return sampling_generator()  # a gan_tf.GAN: its EMA generator when it keeps one
        return getattr(self.model, "generator", None) or self.model

    def fixed_latents(self):
        """The grid's latent vectors: read from `latents.npy`, or drawn and saved there."""
        if self._latents is not None:
            return self._latents
        shape = (self.num_rows * self.num_cols,
                 latent_dim_of(self._resolve_generator(), self.latent_dim))
        if os.path.exists(self.latents_path):
            latents = np.load(self.latents_path, allow_pickle=False)
            if latents.shape != shape:
                raise UserError(
                    f"{self.latents_path} holds latents of shape {latents.shape}, but this "
                    f"grid needs {shape}. Use another directory, or the grid size and latent "
                    "size it was made with.")
        else:
            distribution = ("normal" if self.sample_fn is not None
                            else latent_distribution_of(self._resolve_generator()))
            latents = numpy_latents(np.random.default_rng(self.seed), shape, distribution)
            os.makedirs(self.directory, exist_ok=True)
            buffer = npy_bytes(latents)
            atomic_write_bytes(self.latents_path, buffer)
        self._latents = latents
        return latents

    def fixed_labels(self):
        """The class of each cell for a conditional generator (None if unconditional)."""
        num_classes = self.num_classes or num_classes_of(self._resolve_generator())
        if not num_classes:
            return None
        cells = self.num_rows * self.num_cols
        if self.labels is None:
            return (np.arange(cells, dtype=np.int32) // self.num_cols) % num_classes
        return class_labels(cells, num_classes, self.labels)

    def grid(self):
        """The current grid as uint8 pixels `(H, W, C)`."""
        generator = self._resolve_generator()
        latents, labels = self.fixed_latents(), self.fixed_labels()
        images = call_sampler(generator, self.sample_fn, tf.constant(latents), labels)
        return images_lib.make_grid(
            images_lib.to_uint8(np.asarray(images, np.float32), self.value_range), self.num_rows)

    def write(self, name, step):
        """Writes the current grid as `directory/name` (and to TensorBoard at `step`)."""
        pixels = self.grid()
        images_lib.save_png(pixels, os.path.join(self.directory, name))
        if self.tensorboard_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.tensorboard_dir)
            with self._writer.as_default():
                tf.summary.image("samples", pixels[None], step=step)
            self._writer.flush()
        return pixels

    def on_train_begin(self, logs=None):
        self.fixed_latents()

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every_n_epochs == 0:
            self.write(f"epoch_{epoch + 1:04d}.png", epoch + 1)
            self._last_written = epoch + 1

    def on_train_end(self, logs=None):
        if self._last_epoch is None:
            return  # fit ran no epoch
        self.finish(self._last_epoch)

    def finish(self, epoch):
        """Writes `final.png` (and the GIF) for the model as it is after `epoch` epochs.

        `on_train_end` calls it; call it yourself to complete a run whose process died after
        its last checkpoint but before these files were written.
        """
        self._last_epoch = epoch
        if self._last_written is None and os.path.exists(
                os.path.join(self.directory, f"epoch_{epoch:04d}.png")):
            self._last_written = epoch
        if self._last_written == self._last_epoch:
            # Same weights as the last epoch's grid: copy its file rather than log it twice.
            with open(os.path.join(self.directory, f"epoch_{self._last_epoch:04d}.png"),
                      "rb") as stream:
                atomic_write_bytes(os.path.join(self.directory, self.FINAL_FILE), stream.read())
        else:
            self.write(self.FINAL_FILE, self._last_epoch)
        if self.gif_path:
            self.write_gif(self.gif_path)

    def write_gif(self, path):
        """Animates every `epoch_*.png` in `directory` (in epoch order) into `path`."""
        files = sorted(glob.glob(os.path.join(self.directory, "epoch_*.png")))
        if files:
            images_lib.save_gif([images_lib.read_png(file) for file in files], path)
