"""`SampleRows`: the rows of a fixed latent batch, decoded to a CSV file (and a picture of
real against generated columns) during training."""

import os

import keras

from gan_tf.errors import check_positive_int
from gan_tf.files import atomic_write_text


class SampleRows(keras.callbacks.Callback):
    """Writes `num_rows` generated rows from the same latents every N epochs, as CSV.

    The table counterpart of `gan_tf.callbacks.SampleGrid`: the latents, the Gumbel noise and
    the conditions come from `seed` (`TableGAN.sample`), so consecutive files show the same
    rows changing as the GAN learns. Files are `epoch_NNNN.csv` and, when training ends,
    `final.csv`; each is written atomically. Given `real` rows, it also draws the table's
    "sample grid": real against generated rows, one panel per column
    (`gan_tf.tables.plots.plot_columns`), as `epoch_NNNN.png` every `plot_every_n_epochs`
    epochs and `final.png` at the end.

    Example:
    ```python
    gan.fit(gan.step_dataset(500), epochs=10,
            callbacks=[SampleRows("/tmp/run/samples", num_rows=100)])
    ```

    Args:
        directory: folder of the CSV files. Created if missing.
        num_rows: rows per file. Defaults to 100.
        every_n_epochs: how often. Defaults to 1.
        seed: seed of the fixed latents. Defaults to 0.
        real: real rows (a DataFrame with the table's columns) to draw beside the generated
            ones, or None for CSV files only. Defaults to None.
        schema: the table's `TableSchema` (the kind of each column in the picture), or None
            for kinds read from the dtypes. Defaults to None.
        plot_every_n_epochs: how often the picture is drawn (drawing costs about a second).
            Defaults to 10.
    """

    FINAL_FILE = "final.csv"
    FINAL_PICTURE = "final.png"

    def __init__(self, directory, num_rows=100, every_n_epochs=1, seed=0, real=None,
                 schema=None, plot_every_n_epochs=10):
        super().__init__()
        check_positive_int("num_rows", num_rows)
        check_positive_int("every_n_epochs", every_n_epochs)
        check_positive_int("plot_every_n_epochs", plot_every_n_epochs)
        self.directory = os.fspath(directory)
        self.num_rows = num_rows
        self.every_n_epochs = every_n_epochs
        self.seed = int(seed)
        self.real = real
        self.schema = schema
        self.plot_every_n_epochs = plot_every_n_epochs

    def _write(self, name, picture=None):
        frame = self.model.sample_frame(self.num_rows, seed=self.seed)
        path = os.path.join(self.directory, name)
        os.makedirs(self.directory, exist_ok=True)
        atomic_write_text(path, frame.to_csv(index=False))
        if picture and self.real is not None:
            from gan_tf.tables import plots

            plots.plot_columns(self.real, frame, self.schema,
                               os.path.join(self.directory, picture))
        return path

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            picture = (f"epoch_{epoch + 1:04d}.png"
                       if (epoch + 1) % self.plot_every_n_epochs == 0 else None)
            self._write(f"epoch_{epoch + 1:04d}.csv", picture)

    def on_train_end(self, logs=None):
        self._write(self.FINAL_FILE, self.FINAL_PICTURE)
