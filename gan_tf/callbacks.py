"""Keras callbacks for generative models, usable in any Keras project.

- `SampleGrid`: PNG grids from fixed latent vectors, optional TensorBoard images and GIF.
- `ResumableCheckpoint`: `tf.train.CheckpointManager` checkpoints that resume exactly.
- `MetricsLog`: one JSON line per epoch and a plot of the curves.
- `SampleQuality`: FD/KID (and class coverage) every N epochs, the best checkpoint by FD,
  and warnings when samples degrade or classes disappear (mode collapse).
- `TrainingHealth` lives in `gan_tf.health` (also `gan_tf.TrainingHealth`): warnings when D
  overpowers G for a sustained period or the fixed-latent samples lose their diversity.

None of them needs a `gan_tf.GAN`: they take the generator (or the objects to checkpoint)
explicitly, or find them on the model (`model.generator`, `model.checkpoint_items()`).
"""

import glob
import io
import json
import math
import os
import shutil
import signal
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from gan_tf import images as images_lib
from gan_tf import plots
from gan_tf.errors import UserError, check_positive_int, first_line, invalid
from gan_tf.files import atomic_write_bytes, atomic_write_text
from gan_tf.gan import call_generator, class_labels, latent_dim_of, num_classes_of


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of images generated from the same latent vectors every N epochs.

    The latent vectors are drawn once from `seed` and stored as `latents.npy` in `directory`;
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
    """

    def __init__(self, directory, generator=None, num_rows=8, num_cols=8, every_n_epochs=1,
                 seed=0, value_range=(-1.0, 1.0), gif_path=None, tensorboard_dir=None,
                 latent_dim=None, labels=None):
        super().__init__()
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
            latents = np.random.default_rng(self.seed).standard_normal(shape).astype(np.float32)
            os.makedirs(self.directory, exist_ok=True)
            buffer = _npy_bytes(latents)
            atomic_write_bytes(self.latents_path, buffer)
        self._latents = latents
        return latents

    def fixed_labels(self):
        """The class of each cell for a conditional generator (None if unconditional)."""
        num_classes = num_classes_of(self._resolve_generator())
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
        images = call_generator(generator, tf.constant(latents), labels)
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
                atomic_write_bytes(os.path.join(self.directory, "final.png"), stream.read())
        else:
            self.write("final.png", self._last_epoch)
        if self.gif_path:
            self.write_gif(self.gif_path)

    def write_gif(self, path):
        """Animates every `epoch_*.png` in `directory` (in epoch order) into `path`."""
        files = sorted(glob.glob(os.path.join(self.directory, "epoch_*.png")))
        if files:
            images_lib.save_gif([images_lib.read_png(file) for file in files], path)


class TrainingPreempted(Exception):
    """Training stopped on SIGTERM after saving a checkpoint; rerun the same command to resume.

    Attributes:
        path: the checkpoint that was saved.
        epoch: finished epochs in it.
        step: batches of the next epoch already trained in it.
    """

    # The exit code of `python -m gan_tf.train` when preempted: EX_TEMPFAIL, "try again";
    # distinct from 0 (finished), 1 (an error) and 2 (bad flags).
    EXIT_CODE = 75

    def __init__(self, message, path=None, epoch=0, step=0):
        super().__init__(message)
        self.path = path
        self.epoch = epoch
        self.step = step


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (disk full, permissions); the older ones are intact."""


class ResumableCheckpoint(keras.callbacks.Callback):
    """Checkpoints everything training needs, with `tf.train.CheckpointManager`, and resumes.

    A checkpoint holds the objects to save (for a `gan_tf.GAN`: both networks and **both**
    optimizers, whose step counters also fix the latent vectors still to be drawn, and the
    loss trackers), the number of finished epochs and, for a checkpoint saved inside an epoch,
    the number of that epoch's batches already trained. TensorFlow writes checkpoints to a
    temporary name and renames them, so a kill leaves the previous ones loadable; leftovers
    are removed on the next start. Checkpoints are numbered `ckpt-1`, `ckpt-2`, ... in the
    order they were saved; a number is never reused.

    Call `restore()` before `fit` and pass its result as `initial_epoch`. If `resume_step` is
    then non-zero, the checkpoint was saved inside an epoch: train that epoch's remaining
    batches first (skip `resume_step` batches of its data); this callback puts the epoch's
    running loss averages back when that epoch begins, so its logged means are the same as
    in an uninterrupted run.

    With `handle_sigterm=True`, a SIGTERM (preemption) during `fit` is answered at the next
    batch boundary: the state is saved and `TrainingPreempted` is raised, so no batch is
    lost or trained twice on resume.

    Example:
    ```python
    checkpoint = ResumableCheckpoint("/tmp/run/checkpoints", items={
        "model": model, "optimizer": model.optimizer})
    start = checkpoint.restore()
    model.fit(dataset, epochs=20, initial_epoch=start, callbacks=[checkpoint])
    ```

    Args:
        directory: folder of the checkpoints. Created if missing.
        items: dict of name -> trackable (models, optimizers, variables) to save. Defaults to
            `model.checkpoint_items()` if the model has it, else the model and its optimizer.
        max_to_keep: how many recent checkpoints to keep. Defaults to 3.
        every_n_epochs: save after every N-th epoch (and always at the end). Defaults to 1.
        every_n_steps: also save every N batches inside an epoch. Defaults to None (only at
            epoch ends). Resuming from such a checkpoint needs the data skip described above.
        handle_sigterm: save and stop at the next batch on SIGTERM. Defaults to False.
        save_running_means: also save a gan_tf-style model's loss trackers (see above).
            Reading them is a collective under MultiWorkerMirroredStrategy, which a worker
            stopping alone (SIGTERM) could not make: pass False there. Defaults to True.
        verbose: 0 is silent, 1 prints what was restored, 2 also each save. Defaults to 1.
    """

    def __init__(self, directory, items=None, max_to_keep=3, every_n_epochs=1,
                 every_n_steps=None, handle_sigterm=False, save_running_means=True, verbose=1):
        super().__init__()
        check_positive_int("max_to_keep", max_to_keep)
        check_positive_int("every_n_epochs", every_n_epochs)
        if every_n_steps is not None:
            check_positive_int("every_n_steps", every_n_steps)
        self.directory = os.fspath(directory)
        self.items = items
        self.max_to_keep = max_to_keep
        self.every_n_epochs = every_n_epochs
        self.every_n_steps = every_n_steps
        self.handle_sigterm = handle_sigterm
        self.save_running_means = save_running_means
        self.verbose = verbose
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.resume_step = 0
        self._checkpoint = None
        self._manager = None
        self._metric_values = None  # the restored running means, put back at epoch begin
        self._sigterm = False
        self._previous_handler = None

    def _items(self, model):
        if self.items is not None:
            return dict(self.items)
        if model is None:
            raise ValueError("ResumableCheckpoint needs `items` or a model: pass items=... or "
                             "call restore(model) / use it inside fit.")
        if hasattr(model, "checkpoint_items"):
            return dict(model.checkpoint_items())
        return {"model": model, "optimizer": model.optimizer}

    def _ensure_manager(self, model=None):
        if self._manager is None:
            model = model or self.model
            items = self._items(model)
            # A gan_tf-style model's running loss means are saved too (mid-epoch resumes log
            # the same epoch means); a plain model's metrics may build only during fit.
            own = (self.items is None and self.save_running_means
                   and hasattr(model, "checkpoint_items"))
            self._metrics = list(model.metrics) if own else []
            metric_variables = [v for metric in self._metrics for v in metric.variables]
            if metric_variables and "metric_variables" not in items:
                items["metric_variables"] = metric_variables
            self._checkpoint = tf.train.Checkpoint(epoch=self.epoch, step=self.step, **items)
            os.makedirs(self.directory, exist_ok=True)
            remove_temp_leftovers(self.directory)
            check_checkpoint_list(self.directory)
            self._manager = tf.train.CheckpointManager(
                self._checkpoint, self.directory, max_to_keep=self.max_to_keep,
                checkpoint_name="ckpt")
        return self._manager

    def checkpoint_paths(self):
        """Checkpoint prefixes on disk, newest first (the files, not the index file's list)."""
        numbers = []
        for index in glob.glob(os.path.join(self.directory, "ckpt-*.index")):
            suffix = os.path.basename(index)[len("ckpt-"):-len(".index")]
            if suffix.isdigit():
                numbers.append(int(suffix))
        return [os.path.join(self.directory, f"ckpt-{n}") for n in sorted(numbers, reverse=True)]

    def restore(self, model=None):
        """Restores the newest readable checkpoint; returns the number of finished epochs.

        A checkpoint that cannot be read (torn, truncated, or of another model) is skipped
        with a warning naming it, and the next older one is tried. `resume_step` is set to
        the batches of the next epoch already trained (0 for an end-of-epoch checkpoint).

        Raises:
            UserError: there are checkpoints but none can be read.
        """
        self._ensure_manager(model)
        paths = self.checkpoint_paths()
        for path in paths:
            try:
                self._checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as error:  # noqa: BLE001 - any failure means "not usable"
                print(f"Warning: checkpoint {path} cannot be restored "
                      f"({type(error).__name__}: {first_line(error)}); "
                      "trying an older one.", file=sys.stderr, flush=True)
                continue
            epoch, self.resume_step = int(self.epoch.numpy()), int(self.step.numpy())
            self._metric_values = ([v.numpy() for m in self._metrics for v in m.variables]
                                   if self.resume_step else None)
            if self.verbose:
                where = f", {self.resume_step} batches into epoch {epoch + 1}" * bool(
                    self.resume_step)
                print(f"Restored {path}: {epoch} finished epochs{where}, weights and optimizer "
                      f"state of {', '.join(sorted(self._items(model or self.model)))}.",
                      flush=True)
            return epoch
        if paths:
            raise UserError(
                f"None of the checkpoints in {self.directory} can be restored "
                f"({', '.join(os.path.basename(p) for p in paths)}). They are left as they "
                "are; move that folder away to start over, or train into a new --output_dir.")
        return 0

    def save(self, epoch, step=0):
        """Saves now: `epoch` finished epochs and `step` batches of the next one.

        Returns the checkpoint path.

        Raises:
            CheckpointWriteError: the write failed (the older checkpoints are intact).
        """
        manager = self._ensure_manager()
        self.epoch.assign(epoch)
        self.step.assign(step)
        existing = self.checkpoint_paths()
        number = int(os.path.basename(existing[0])[len("ckpt-"):]) + 1 if existing else 1
        path = save_checkpoint(manager, number)
        if self.verbose > 1:
            print(f"Saved {path}", flush=True)
        return path

    def on_train_begin(self, logs=None):
        self._ensure_manager()
        self._last_saved = (int(self.epoch.numpy()), int(self.step.numpy()))
        self._finished = None  # the last finished epoch whose state may be saved
        self._current_epoch = int(self.epoch.numpy())
        self._step_offset = self.resume_step
        self._steps_in_epoch = self.resume_step
        if self.handle_sigterm:
            self._sigterm = False
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum, frame):
        self._sigterm = True

    @property
    def sigterm_received(self):
        """True once a SIGTERM arrived during `fit` (with `handle_sigterm`)."""
        return self._sigterm

    @property
    def position(self):
        """`(epoch, steps)`: the 0-based epoch being trained and its batches done so far."""
        return self._current_epoch, self._steps_in_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        if self._metric_values is not None:
            # fit reset the running means at this epoch's start; put the saved ones back.
            variables = [v for metric in self._metrics for v in metric.variables]
            for variable, value in zip(variables, self._metric_values):
                variable.assign(value)
            self._metric_values = None
        else:
            self._step_offset = 0
        self._steps_in_epoch = self._step_offset

    def on_train_batch_end(self, batch, logs=None):
        self._steps_in_epoch = self._step_offset + batch + 1
        due = self.every_n_steps and self._steps_in_epoch % self.every_n_steps == 0
        if not (due or self._sigterm):
            return
        bad = non_finite(logs)
        if bad:
            return  # never save a diverged state (StopOnNonFinite stops the run)
        state = (self._current_epoch, self._steps_in_epoch)
        if state != self._last_saved:
            path = self.save(*state)
            self._last_saved = state
        else:
            path = self.checkpoint_paths()[0]
        if self._sigterm:
            self._preempted(path, *state)

    def _preempted(self, path, epoch, step):
        where = f"epoch {epoch + 1}, batch {step}" if step else f"the end of epoch {epoch}"
        raise TrainingPreempted(
            f"Stopped on SIGTERM at {where}; saved {path}. Rerun the same command to resume "
            "from there.", path=path, epoch=epoch, step=step)

    def on_epoch_end(self, epoch, logs=None):
        bad = non_finite(logs)
        if bad:
            print(f"Warning: not checkpointing epoch {epoch + 1}: {bad}. The earlier "
                  "checkpoints are kept.", file=sys.stderr, flush=True)
            self._finished = None
            return
        self._finished = epoch + 1
        if self._finished % self.every_n_epochs == 0 or self._sigterm:
            self.save(self._finished)
            self._last_saved = (self._finished, 0)
            if self._sigterm:
                self._preempted(self.checkpoint_paths()[0], self._finished, 0)

    def on_train_end(self, logs=None):
        self.stop_handling_sigterm()
        if self._finished is not None and (self._finished, 0) != self._last_saved:
            self.save(self._finished)
            self._last_saved = (self._finished, 0)

    def stop_handling_sigterm(self):
        """Puts back the SIGTERM handler replaced at `on_train_begin` (a no-op otherwise).

        `fit` skips `on_train_end` when it raises, so call this in a `finally`."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None


def check_checkpoint_list(directory):
    """Refuses a checkpoint list naming files outside `directory`; sets aside a torn one.

    `tf.train.CheckpointManager` deletes the oldest listed checkpoints when it rotates and
    `tf.train.latest_checkpoint` reads the listed one, so a crafted list (the `checkpoint`
    file) could make them delete or read files anywhere.
    """
    path = os.path.join(directory, "checkpoint")
    if not os.path.lexists(path):
        return
    if os.path.islink(path):
        raise UserError(f"{path} is a symbolic link; a checkpoint list must be a plain "
                        "file inside its folder. Remove the link to continue.")
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001 - any failure to read it
        state = None
    if state is None:  # it exists but does not parse (TensorFlow logs and returns None)
        aside = f"{path}.unreadable-{int(time.time())}"
        os.replace(path, aside)
        print(f"Warning: {path} cannot be read; moved it to {aside}. The checkpoints "
              "themselves are found by their own files.", file=sys.stderr, flush=True)
        return
    root = os.path.realpath(directory)
    for name in [state.model_checkpoint_path, *state.all_model_checkpoint_paths]:
        if name and os.path.dirname(os.path.realpath(os.path.join(directory, name))) != root:
            raise UserError(
                f"{path} names a checkpoint outside {directory}: {name!r}. gan_tf only "
                "reads and deletes checkpoints inside their folder; this list was edited or "
                "copied from elsewhere. Delete that file (the checkpoints are found by their "
                "own files) and rerun.")


def remove_temp_leftovers(directory):
    """Removes the `*_temp*` files and folders a killed or failed checkpoint write left."""
    for path in glob.glob(os.path.join(directory, "*_temp*")):
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


def save_checkpoint(manager, number, name="ckpt"):
    """`manager.save(checkpoint_number=number)`, a failed write raised as CheckpointWriteError.

    TensorFlow writes into `<name>-<number>_temp` and renames; that folder is removed after a
    failure, and the older checkpoints are untouched.
    """
    directory = manager.directory
    try:
        return manager.save(checkpoint_number=number)
    except (OSError, tf.errors.OpError) as error:
        remove_temp_leftovers(directory)
        reason = getattr(error, "strerror", None) or getattr(error, "message", None)
        reason = first_line(reason or error)
        kept = manager.latest_checkpoint
        kept = (f"the previous checkpoint {os.path.basename(kept)} is intact" if kept
                else "no earlier checkpoint exists")
        raise CheckpointWriteError(
            f"Could not write checkpoint {name}-{number} in {directory}: {reason}. Training "
            f"stopped; {kept}. Free disk space (or fix the folder's permissions) and rerun "
            "the same command to resume."
        ) from None


class TrainingDiverged(UserError):
    """A loss or metric became NaN or infinite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first step whose logs hold a NaN or infinite value.

    Unlike `keras.callbacks.TerminateOnNaN`, which reads only `logs["loss"]`, it checks
    every logged value (a GAN logs `d_loss` and `g_loss`) and raises `TrainingDiverged`
    at once, so no epoch-end callback can save the diverged state: the last good checkpoint
    stays the latest one.

    Example:
    ```python
    gan.fit(dataset, epochs=50, callbacks=[StopOnNonFinite(), checkpoint])
    ```
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        bad = non_finite(logs)
        if bad:
            raise TrainingDiverged(
                f"Training diverged at step {batch + 1} of epoch {self._epoch + 1}: {bad}. "
                "Nothing of this epoch was saved; the last checkpoint is intact. Try lower "
                "learning rates or another --loss, then rerun to resume from the checkpoint.")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def non_finite(logs):
    """'name = value' for every NaN or infinite value in `logs`, or '' if there is none."""
    bad = []
    for key, value in (logs or {}).items():
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            bad.append(f"{key} = {array.reshape(-1)[0]}")
    return ", ".join(bad)


class MetricsLog(keras.callbacks.Callback):
    """Appends one JSON line per epoch to a log file and plots the curves.

    Each line holds `epoch` (finished epochs, from 1), `time` (seconds since the epoch
    started) and every value in the epoch's logs. When training (re)starts, lines for epochs
    at or after the starting epoch (written by a run killed before its checkpoint) and a torn
    last line are dropped, so the file always matches the restored state.

    Example:
    ```python
    log = MetricsLog("/tmp/run/metrics.jsonl", plot_path="/tmp/run/losses.png")
    model.fit(x, y, epochs=10, callbacks=[log])
    ```

    Args:
        path: the JSON-lines file. Its folder is created if missing.
        plot_path: if set, a PNG of the curves (matplotlib), rewritten every
            `plot_every_n_epochs` epochs and when training ends.
        plot_every_n_epochs: how often to redraw the plot. Defaults to 10.
    """

    def __init__(self, path, plot_path=None, plot_every_n_epochs=10):
        super().__init__()
        check_positive_int("plot_every_n_epochs", plot_every_n_epochs)
        self.path = os.fspath(path)
        self.plot_path = plot_path
        self.plot_every_n_epochs = plot_every_n_epochs
        self._repaired = False

    def read(self):
        """The parseable records of the log file, in order."""
        return read_jsonl(self.path)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        if not self._repaired:
            self._repaired = True
            records = self.read()
            kept = [record for record in records if record.get("epoch", 0) <= epoch]
            if len(kept) != _count_lines(self.path):
                atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1,
                  "time": round(time.time() - getattr(self, "_epoch_start", time.time()), 3)}
        for key, value in (logs or {}).items():
            value = float(np.asarray(value).reshape(-1)[0])
            record[key] = value if math.isfinite(value) else None  # JSON null, a gap in plots
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        if self.plot_path and (epoch + 1) % self.plot_every_n_epochs == 0:
            plots.plot_metrics(self.read(), self.plot_path)

    def on_train_end(self, logs=None):
        if self.plot_path:
            records = self.read()
            if records:
                plots.plot_metrics(records, self.plot_path)


class SampleQuality(keras.callbacks.Callback):
    """Scores samples every N epochs, keeps the best checkpoint by FD, warns on collapse.

    Every `every_n_epochs` epochs and after the last epoch it draws `num_samples` samples
    (always from the same seed, so epochs are compared on the same latents), computes their Frechet distance and KID to
    `real["features"]` (and, when the extractor is a classifier of the dataset's classes,
    class coverage) and adds them to the epoch's logs as `fd`, `kid`, `class_coverage` (and
    `requested_class_accuracy` for a conditional GAN), so `MetricsLog`, TensorBoard and
    `History` record them. Put it before those callbacks in the list.

    It warns, naming the epoch, when FD rises past `degradation` x its best, or when the
    samples cover `coverage_drop` or more classes fewer than the most they covered at an
    earlier evaluation (mode collapse; a drop of one class is common noise early on). With
    `best_checkpoint_dir` it saves the objects of `items` (default:
    `model.checkpoint_items()`) whenever FD reaches a new best, with `best.json`.

    Example:
    ```python
    judge = gan_tf.features.DomainClassifier.for_dataset(digits)
    real = gan_tf.features.real_features(judge, digits)
    quality = SampleQuality(judge, real, every_n_epochs=5, best_checkpoint_dir="/tmp/best")
    gan.fit(dataset, epochs=50, callbacks=[quality, MetricsLog("/tmp/metrics.jsonl")])
    ```

    Args:
        extractor: a `gan_tf.features.Extractor`.
        real: dict with "features" (and optionally "labels") of real images, e.g. from
            `gan_tf.features.real_features`.
        every_n_epochs: how often to score. Defaults to 5.
        num_samples: samples per evaluation. Defaults to 1000.
        seed: seed of the samples. Defaults to 0.
        best_checkpoint_dir: where to keep the best checkpoint by FD (None: do not keep).
        items: objects to checkpoint. Defaults to `model.checkpoint_items()`.
        degradation: FD above this multiple of its best triggers a warning. Defaults to 1.5.
        coverage_drop: classes lost, against the most covered so far, that trigger a
            mode-collapse warning. Defaults to 2.
        log: function that prints the scores and warnings. Defaults to print.
    """

    BEST_FILE = "best.json"

    def __init__(self, extractor, real, every_n_epochs=5, num_samples=1000, seed=0,
                 best_checkpoint_dir=None, items=None, degradation=1.5, coverage_drop=2,
                 log=print):
        super().__init__()
        check_positive_int("every_n_epochs", every_n_epochs)
        check_positive_int("num_samples", num_samples)
        if not degradation > 1:
            raise invalid("degradation", degradation, "a number > 1, e.g. 1.5")
        self.extractor = extractor
        self.real = real
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.seed = seed
        self.best_checkpoint_dir = best_checkpoint_dir and os.fspath(best_checkpoint_dir)
        self.items = items
        self.degradation = degradation
        check_positive_int("coverage_drop", coverage_drop)
        self.coverage_drop = coverage_drop
        self.most_covered = None  # (classes, epoch): the widest class coverage seen
        self.log = log
        self.best = None  # {"epoch", "fd", "class_coverage"}
        self.warnings = []
        self._manager = None
        if self.best_checkpoint_dir:
            path = os.path.join(self.best_checkpoint_dir, self.BEST_FILE)
            if os.path.exists(path):
                try:
                    with open(path, encoding="utf-8") as stream:
                        best = json.load(stream)
                except (OSError, ValueError):
                    best = None
                # Scores from another judge or sample count are not comparable: start over.
                if best and best.get("judge") == self._judge() and best.get(
                        "num_samples") == num_samples:
                    self.best = best
                    if best.get("most_covered"):
                        self.most_covered = tuple(best["most_covered"])
                elif best:
                    self.log(f"The best checkpoint in {self.best_checkpoint_dir} was scored "
                             f"by {best.get('judge')} on {best.get('num_samples')} samples; "
                             f"now {self._judge()} on {num_samples}: keeping a new best.")

    def _judge(self):
        key = getattr(self.extractor, "key", None)
        return key() if callable(key) else getattr(self.extractor, "name", "extractor")

    def _samples(self):
        generate = getattr(self.model, "generate", None)
        num_classes = getattr(self.model, "num_classes", None)
        requested = None
        if num_classes:
            requested = class_labels(self.num_samples, num_classes)  # balanced
        if callable(generate):
            images = generate(self.num_samples, seed=self.seed, **(
                {"labels": requested} if num_classes else {}))
        else:
            generator = getattr(self.model, "generator", None) or self.model
            latents = np.random.default_rng(self.seed).standard_normal(
                (self.num_samples, latent_dim_of(generator))).astype(np.float32)
            images = np.asarray(generator(latents, training=False))
        return np.asarray(images, np.float32), requested

    def evaluate(self):
        """The current scores: {"fd", "kid", ["class_coverage", "requested_class_accuracy"]}."""
        from gan_tf import metrics

        images, requested = self._samples()
        features, probabilities = self.extractor.features_and_probabilities(images)
        real = self.real["features"]
        scores = {"fd": metrics.frechet_distance(real, features)}
        subset = min(500, len(real), len(features))
        scores["kid"] = metrics.kernel_inception_distance(
            real, features, num_subsets=20, subset_size=subset, seed=self.seed)[0]
        if probabilities is not None and self.real.get("labels") is not None \
                and self.extractor.name == "classifier":
            predicted = probabilities.argmax(-1)
            scores["class_coverage"] = metrics.class_coverage(
                predicted, self.extractor.num_classes)["covered"]
            if requested is not None:
                scores["requested_class_accuracy"] = float((predicted == requested).mean())
        return scores

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        last = (self.params or {}).get("epochs") == epoch
        if epoch % self.every_n_epochs and not last:
            return
        scores = self.evaluate()
        if logs is not None:
            logs.update(scores)
        summary = ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
        accuracy = getattr(self.extractor, "accuracy", None)
        judge = self.extractor.name + (f", held-out accuracy {accuracy:.4f}"
                                       if accuracy is not None else "")
        self.log(f"Epoch {epoch} sample quality ({self.num_samples} samples; judge: "
                 f"{judge}): {summary}")
        best = self.best
        coverage = scores.get("class_coverage")
        if coverage is not None:
            most = self.most_covered
            if most is not None and coverage <= most[0] - self.coverage_drop:
                self._warn(f"Warning: possible mode collapse at epoch {epoch}: the samples "
                           f"cover {coverage} of {self.extractor.num_classes} classes, against "
                           f"{most[0]} at epoch {most[1]}.")
            if most is None or coverage > most[0]:
                self.most_covered = (coverage, epoch)
        if best is not None and scores["fd"] > self.degradation * best["fd"]:
            self._warn(f"Warning: samples degrading at epoch {epoch}: FD {scores['fd']:.4g} is "
                       f"{scores['fd'] / best['fd']:.1f}x its best ({best['fd']:.4g} at epoch "
                       f"{best['epoch']})."
                       + (f" The best checkpoint is in {self.best_checkpoint_dir}."
                          if self.best_checkpoint_dir else ""))
        if best is None or scores["fd"] < best["fd"]:
            self.best = {"epoch": epoch, **scores, "judge": self._judge(),
                         "judge_accuracy": accuracy, "num_samples": self.num_samples,
                         "most_covered": self.most_covered}
            self._save_best()
        elif self.best.get("most_covered") != self.most_covered:
            self.best["most_covered"] = self.most_covered  # kept for a resumed run
            self._write_best_json()

    def _warn(self, message):
        self.warnings.append(message)
        print(message, file=sys.stderr)

    def _save_best(self):
        if not self.best_checkpoint_dir:
            return
        if self._manager is None:
            items = self.items
            if items is None:
                checkpoint_items = getattr(self.model, "checkpoint_items", None)
                items = checkpoint_items() if callable(checkpoint_items) else {
                    "model": self.model}
            os.makedirs(self.best_checkpoint_dir, exist_ok=True)
            check_checkpoint_list(self.best_checkpoint_dir)
            self._manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(**items), self.best_checkpoint_dir, max_to_keep=1,
                checkpoint_name="best")
        save_checkpoint(self._manager, self.best["epoch"], name="best")
        self._write_best_json()

    def _write_best_json(self):
        if self.best_checkpoint_dir:
            atomic_write_text(os.path.join(self.best_checkpoint_dir, self.BEST_FILE),
                              json.dumps(self.best, indent=2) + "\n")


def read_jsonl(path):
    """Parses a JSON-lines file, skipping a torn (unparseable) line; [] if it is missing."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def _count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
