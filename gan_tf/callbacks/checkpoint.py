"""`ResumableCheckpoint`: checkpoints that resume a training run exactly, and its errors."""

import glob
import os
import signal

import keras
import tensorflow as tf

from gan_tf.callbacks.checkpoint_folders import (check_checkpoint_list, remove_temp_leftovers,
                                                 save_checkpoint)
from gan_tf.callbacks.stop_on_non_finite import non_finite
from gan_tf.errors import UserError, check_positive_int, first_line
from gan_tf.messages import get_logger

_logger = get_logger(__name__)


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
                _logger.warning(f"Warning: checkpoint {path} cannot be restored "
                                f"({type(error).__name__}: {first_line(error)}); "
                                "trying an older one.")
                continue
            epoch, self.resume_step = int(self.epoch.numpy()), int(self.step.numpy())
            self._metric_values = ([v.numpy() for m in self._metrics for v in m.variables]
                                   if self.resume_step else None)
            if self.verbose:
                where = f", {self.resume_step} batches into epoch {epoch + 1}" * bool(
                    self.resume_step)
                _logger.info(f"Restored {path}: {epoch} finished epochs{where}, weights and "
                             "optimizer state of "
                             f"{', '.join(sorted(self._items(model or self.model)))}.")
            return epoch
        if paths:
            raise UserError(
                f"None of the checkpoints in {self.directory} can be restored "
                f"({', '.join(os.path.basename(p) for p in paths)}). They are left as they "
                "are; move that folder away to start over, or checkpoint into a new directory.")
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
            _logger.info(f"Saved {path}")
        return path

    def save_position(self):
        """Saves the training done so far (`position`) unless the newest checkpoint holds it
        already (nothing trained since); returns the newest checkpoint's path, or None.

        For a run stopped by an error between batches (e.g. an unreadable image)."""
        state = self.position
        if state != self._last_saved:
            path = self.save(*state)
            self._last_saved = state
            return path
        paths = self.checkpoint_paths()
        return paths[0] if paths else None

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
            _logger.warning(f"Warning: not checkpointing epoch {epoch + 1}: {bad}. The earlier "
                            "checkpoints are kept.")
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
