"""`ResumableCheckpoint`: checkpoints that resume a training run exactly, and its errors."""

import glob
import json
import os
import signal

import keras
import numpy as np
import tensorflow as tf

from gan_tf.callbacks.checkpoint_folders import (check_checkpoint_list, remove_temp_leftovers,
                                                 save_checkpoint)
from gan_tf.callbacks.stop_on_non_finite import non_finite
from gan_tf.errors import UserError, check_positive_int, first_line, invalid
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

    A checkpoint holds the objects to save (`items`), the number of finished epochs, for a
    checkpoint saved inside an epoch the number of that epoch's batches already trained, and
    the state of the `callbacks` given (e.g. `TrainingHealth`'s patience window and best
    spread, `SampleQuality`'s best score), so that a resumed run logs what an uninterrupted
    one logs. Which objects, by default (`checkpoint_items`):

    - a `gan_tf.GAN`: both networks and **both** optimizers (whose step counters also fix
      the latent vectors still to be drawn), ADA's probability, the loss trackers;
    - any other model: the model (its weights, and whatever TensorFlow tracks through its
      attributes), `model.optimizer` and every other optimizer kept as an attribute of the
      model (e.g. `self.d_optimizer`, `self.g_optimizer`), and the state of every
      `keras.random.SeedGenerator` the model or its layers own (a `train_step` that draws
      its latents from one continues the same draws after a resume; Keras's own weight
      files do not keep that state).

    Randomness that is in none of these (`tf.random.normal`, numpy's global generator, a
    `tf.data` shuffle that reshuffles each epoch) restarts on resume: such a run resumes,
    but not bit for bit. TensorFlow writes checkpoints to a temporary name and renames them,
    so a kill leaves the previous ones loadable; leftovers are removed on the next start.
    Checkpoints are numbered `ckpt-1`, `ckpt-2`, ... in the order they were saved; a number
    is never reused.

    Call `restore()` before `fit` and pass its result as `initial_epoch`. If `resume_step` is
    then non-zero, the checkpoint was saved inside an epoch: train that epoch's remaining
    batches first, e.g. with `fit(model, dataset, epochs)`, which does both fits for you, or
    `fit(skip_trained(dataset), epochs=start + 1, initial_epoch=start)` and then the other
    epochs. This callback puts the epoch's running loss averages back when that epoch
    begins, so its logged means are the same as in an uninterrupted run. A `fit` that
    trains the interrupted epoch from its first batch again is warned about.

    With `handle_sigterm=True`, a SIGTERM (preemption) during `fit` is answered at the next
    batch boundary: the state is saved and `TrainingPreempted` is raised, so no batch is
    lost or trained twice on resume.

    Example:
    ```python
    health = TrainingHealth()
    checkpoint = ResumableCheckpoint("checkpoints", callbacks=[health])
    start = checkpoint.restore(model)
    model.fit(dataset, epochs=20, initial_epoch=start, callbacks=[health, checkpoint])
    # or, resuming inside an epoch too (the dataset yields the same batches every epoch):
    checkpoint.fit(model, dataset, epochs=20, callbacks=[health])
    ```

    Args:
        directory: folder of the checkpoints. Created if missing.
        items: dict of name -> trackable (models, optimizers, variables) to save. Defaults to
            `model.checkpoint_items()` if the model has it, else the model and its optimizers
            (see above). The state of the `keras.random.SeedGenerator`s of the Keras objects
            among them is added as `seed_generators`.
        max_to_keep: how many recent checkpoints to keep. Defaults to 3.
        every_n_epochs: save after every N-th epoch (and always at the end). Defaults to 1.
        every_n_steps: also save every N batches inside an epoch. Defaults to None (only at
            epoch ends). Resuming from such a checkpoint needs the data skip described above.
        handle_sigterm: save and stop at the next batch on SIGTERM. Defaults to False.
        save_running_means: also save a gan_tf-style model's loss trackers (see above).
            Reading them is a collective under MultiWorkerMirroredStrategy, which a worker
            stopping alone (SIGTERM) could not make: pass False there. Defaults to True.
        verbose: 0 is silent, 1 prints what was restored, 2 also each save. Defaults to 1.
        callbacks: the callbacks whose state to save and restore with the model (those with
            `get_state` and `set_state`: `TrainingHealth`, `SampleQuality`); more can be
            added with `keep_state_of`. Defaults to none.
    """

    # Entries that checkpoints written by earlier gan_tf versions lack: such a checkpoint is
    # restored without them (the callbacks then start over, the seed generators from their
    # seeds), rather than refused.
    OPTIONAL_ENTRIES = ("callback_state", "seed_generators")

    def __init__(self, directory, items=None, max_to_keep=3, every_n_epochs=1,
                 every_n_steps=None, handle_sigterm=False, save_running_means=True, verbose=1,
                 callbacks=None):
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
        # What is not a variable of its own (callback states, the length of the epoch being
        # trained) travels as one JSON string, so adding a stateful callback does not change
        # the checkpoint's layout.
        self._state = tf.Variable("{}", dtype=tf.string, trainable=False, name="state")
        self._stateful = []  # (key, callback)
        self._restored_state = {}
        self._epoch_steps = None  # batches in the interrupted epoch, when it was known
        self._skip_given = False
        self._checkpoint = None
        self._items_saved = None  # the items of the checkpoint, for restoring older ones
        self._manager = None
        self._metric_values = None  # the restored running means, put back at epoch begin
        self._pending_resume = False  # restored inside an epoch; that epoch not begun yet
        self._running_means = None  # another model's running means, from the JSON state
        self._sigterm = False
        self._previous_handler = None
        self.keep_state_of(*(callbacks or ()))

    def keep_state_of(self, *callbacks):
        """Saves and restores the state of `callbacks` with each checkpoint from now on.

        Each needs `get_state()` (a JSON-able dict) and `set_state(state)`. A callback added
        after `restore()` gets the restored state at once.
        """
        for callback in callbacks:
            if not (callable(getattr(callback, "get_state", None))
                    and callable(getattr(callback, "set_state", None))):
                raise invalid("callbacks", f"a {type(callback).__name__}",
                              "callbacks with get_state() and set_state(state), e.g. "
                              "TrainingHealth or SampleQuality")
            if any(callback is other for _, other in self._stateful):
                continue
            base = type(callback).__name__
            taken = {key for key, _ in self._stateful}
            key = next(f"{base}_{n}" if n > 1 else base for n in range(1, len(taken) + 2)
                       if (f"{base}_{n}" if n > 1 else base) not in taken)
            self._stateful.append((key, callback))
            if key in self._restored_state:
                callback.set_state(self._restored_state[key])

    def _items(self, model):
        if self.items is not None:
            items = dict(self.items)
        elif model is None:
            raise ValueError("ResumableCheckpoint needs `items` or a model: pass items=... or "
                             "call restore(model) / use it inside fit.")
        elif hasattr(model, "checkpoint_items"):
            items = dict(model.checkpoint_items())
        else:
            items = {"model": model, **model_optimizers(model)}
        if "seed_generators" not in items:
            states = seed_generator_states(*items.values())
            if states:
                items["seed_generators"] = states
        return items

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
            self._checkpoint = tf.train.Checkpoint(epoch=self.epoch, step=self.step,
                                                   callback_state=self._state, **items)
            self._items_saved = items
            os.makedirs(self.directory, exist_ok=True)
            remove_temp_leftovers(self.directory)
            check_checkpoint_list(self.directory)
            self._manager = tf.train.CheckpointManager(
                self._checkpoint, self.directory, max_to_keep=self.max_to_keep,
                checkpoint_name="ckpt")
        return self._manager

    def _checkpoint_for(self, path):
        """The checkpoint object that restores `path`: without the `OPTIONAL_ENTRIES` it
        lacks (one written before they existed)."""
        entries = {name.split("/")[0] for name, _ in tf.train.list_variables(path)}
        missing = [name for name in self.OPTIONAL_ENTRIES
                   if name not in entries and (name == "callback_state"
                                               or name in self._items_saved)]
        if not missing:
            return self._checkpoint
        items = {name: item for name, item in self._items_saved.items() if name not in missing}
        if "callback_state" not in missing:
            items["callback_state"] = self._state
        return tf.train.Checkpoint(epoch=self.epoch, step=self.step, **items)

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
                self._state.assign("{}")
                self._checkpoint_for(path).restore(path).assert_existing_objects_matched()
                state = json.loads(self._state.numpy().decode("utf-8"))
            except Exception as error:  # noqa: BLE001 - any failure means "not usable"
                _logger.warning(f"Warning: checkpoint {path} cannot be restored "
                                f"({type(error).__name__}: {first_line(error)}); "
                                "trying an older one.")
                continue
            epoch, self.resume_step = int(self.epoch.numpy()), int(self.step.numpy())
            self._restored_state = state.get("callbacks", {})
            self._epoch_steps = state.get("epoch_steps")
            self._running_means = state.get("running_means") if self.resume_step else None
            self._pending_resume = bool(self.resume_step)
            for key, callback in self._stateful:
                if key in self._restored_state:
                    callback.set_state(self._restored_state[key])
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
        state = {"callbacks": {key: callback.get_state() for key, callback in self._stateful}}
        if step and self._epoch_steps:
            state["epoch_steps"] = self._epoch_steps
        if step and self.save_running_means and not self._metrics and self.model is not None:
            # Another model's running means (its `metrics`, e.g. keras-io's d_loss_metric)
            # go into the JSON state: they may be built only during fit, so they cannot be
            # part of the checkpoint's layout.
            state["running_means"] = {
                f"{index}:{metric.name}": [np.asarray(v).tolist() for v in metric.variables]
                for index, metric in enumerate(self.model.metrics)}
        self._state.assign(json.dumps(state, default=_plain, sort_keys=True))
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
        self._step_offset = self.resume_step if self._pending_resume else 0
        self._steps_in_epoch = self._step_offset
        steps = (self.params or {}).get("steps")
        if (self._pending_resume and not self._skip_given and steps
                and steps == self._epoch_steps):
            # This fit trains the interrupted epoch from its first batch: its first
            # `resume_step` batches would be trained twice.
            _logger.warning(
                f"Warning: the checkpoint was saved {self.resume_step} batches into epoch "
                f"{self._current_epoch + 1}, but this fit trains all {steps} batches of that "
                f"epoch again: {self.resume_step} batches are trained twice, so the run "
                "differs from an uninterrupted one. Use checkpoint.fit(model, dataset, "
                "epochs) or fit checkpoint.skip_trained(dataset) for that epoch first.")
            self.resume_step = self._step_offset = self._steps_in_epoch = 0
            self._metric_values = self._running_means = None
            self._pending_resume = False
        self._skip_given = False
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
        if self._pending_resume:
            # fit reset the running means at this epoch's start; put the saved ones back.
            self._pending_resume = False
            variables = [v for metric in self._metrics for v in metric.variables]
            for variable, value in zip(variables, self._metric_values or ()):
                variable.assign(value)
            self._metric_values = None
            self._put_back_running_means()
        else:
            self._step_offset = 0
        self._steps_in_epoch = self._step_offset

    def _put_back_running_means(self):
        """Puts another model's saved running means back (see `save`)."""
        saved, self._running_means = self._running_means, None
        if not saved or self.model is None:
            return
        for index, metric in enumerate(self.model.metrics):
            values = saved.get(f"{index}:{metric.name}")
            if values is None or len(values) != len(metric.variables):
                continue
            for variable, value in zip(metric.variables, values):
                value = np.asarray(value, dtype=variable.dtype)
                if tuple(value.shape) == tuple(variable.shape):
                    variable.assign(value)

    def on_train_batch_end(self, batch, logs=None):
        self._steps_in_epoch = self._step_offset + batch + 1
        steps = (self.params or {}).get("steps")
        self._epoch_steps = self._step_offset + steps if steps else None
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

    def skip_trained(self, dataset):
        """`dataset` without the batches of the interrupted epoch already trained.

        For the `fit` of the interrupted epoch after `restore()` (`resume_step` batches into
        it): `dataset` must yield that epoch's batches in the same order as before the
        interruption (a dataset of batches with a fixed order, or one whose order is a
        function of the epoch). Returns `dataset` itself when nothing is to be skipped.
        `fit` does this for you.
        """
        if not hasattr(dataset, "skip"):
            raise invalid("dataset", f"a {type(dataset).__name__}",
                          "a tf.data.Dataset of batches (tf.data.Dataset.from_tensor_slices"
                          "((x, y)).batch(64), with the same order every epoch)")
        self._skip_given = True
        return dataset.skip(self.resume_step) if self.resume_step else dataset

    def fit(self, model, dataset, epochs, callbacks=None, steps_per_epoch=None, **kwargs):
        """Restores the newest checkpoint and trains `model` on to `epochs`; returns the
        `History` dict of the epochs trained.

        One call for what resuming inside an epoch takes with plain `fit`: the interrupted
        epoch's remaining batches (`skip_trained`), then the other epochs on the whole
        `dataset`. This callback is added to `callbacks` if it is not there, and the
        callbacks see one run: none is told that training ended between the two fits.

        Args:
            model: the model to train (and restore, unless `items` were given).
            dataset: a `tf.data.Dataset` of batches that yields the same batches every epoch.
            epochs: the epoch to train to (as `fit`'s `epochs`).
            callbacks: the other callbacks of the run.
            steps_per_epoch: as `fit`'s, for a dataset that repeats.
            **kwargs: passed to both `model.fit` calls (e.g. `verbose`).
        """
        callbacks = list(callbacks or [])
        if not any(callback is self for callback in callbacks):
            callbacks.append(self)
        start = self.restore(model)
        history = {}
        if start >= epochs:
            return history
        if self.resume_step:
            steps = steps_per_epoch and steps_per_epoch - self.resume_step
            part = model.fit(self.skip_trained(dataset), epochs=start + 1, initial_epoch=start,
                             steps_per_epoch=steps,
                             callbacks=[PartOfRun(callback, epochs) for callback in callbacks],
                             **kwargs)
            history = dict(part.history)
            start += 1
            if model.stop_training or start >= epochs:
                for callback in callbacks:
                    callback.on_train_end({})
                return history
        rest = model.fit(dataset, epochs=epochs, initial_epoch=start,
                         steps_per_epoch=steps_per_epoch, callbacks=callbacks, **kwargs)
        for key, values in rest.history.items():
            history[key] = history.get(key, []) + list(values)
        return history

    def stop_handling_sigterm(self):
        """Puts back the SIGTERM handler replaced at `on_train_begin` (a no-op otherwise).

        `fit` skips `on_train_end` when it raises, so call this in a `finally`."""
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None


class PartOfRun(keras.callbacks.Callback):
    """Passes a callback everything but `on_train_end`, telling it the run's real epochs.

    For the `fit` that finishes an epoch resumed in its middle: the run goes on after it.
    """

    def __init__(self, callback, epochs):
        super().__init__()
        self.callback = callback
        self._epochs = epochs

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(dict(params, epochs=self._epochs))

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def on_train_begin(self, logs=None):
        self.callback.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self.callback.on_epoch_begin(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self.callback.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.callback.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.callback.on_epoch_end(epoch, logs)


def model_optimizers(model):
    """`{attribute name: optimizer}` of every Keras optimizer kept as an attribute of `model`.

    `model.optimizer` (set by `compile`) and those a custom `train_step` uses, such as
    keras-io's `self.d_optimizer` and `self.g_optimizer`. An optimizer that is never used is
    saved all the same (its step counter and settings; it has no slots).
    """
    found = {}
    for name, value in vars(model).items():
        if (not name.startswith("_") and isinstance(value, keras.optimizers.Optimizer)
                and not any(value is other for other in found.values())):
            found[name] = value
    return found


def seed_generator_states(*objects):
    """The state variables of every `keras.random.SeedGenerator` owned by the Keras layers
    and models among `objects` (and their sub-layers), in a fixed order.

    A `tf.train.Checkpoint` of a model does not reach them (FINDINGS: a SeedGenerator is not
    trackable; its `state` variable is). Keras keeps a layer's generators in
    `Layer._seed_generators` (Keras 3.15); this is the one place gan_tf reads it.
    """
    states, seen = [], set()
    for item in objects:
        if not isinstance(item, keras.layers.Layer):
            continue
        for layer in item._flatten_layers(include_self=True, recursive=True):
            for generator in getattr(layer, "_seed_generators", ()):
                if id(generator.state) not in seen:
                    seen.add(id(generator.state))
                    states.append(generator.state)
    return states


def _plain(value):
    """JSON for numpy scalars and arrays in a callback's state."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} in a callback's state is not JSON-able")
