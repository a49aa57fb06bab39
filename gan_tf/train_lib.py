"""`train(config)`: loads the data, builds and trains the GAN, writes the run directory.

The run directory's layout is `gan_tf.runs`'s. Running the same config again resumes from
the latest checkpoint; a finished run is left as it is. Everything that can be checked
(data, config, paths) is checked before anything is written.
"""

import dataclasses
import os
import time

from gan_tf import data as data_lib
from gan_tf import distribute, hardware, runs
from gan_tf.errors import UserError, first_line
from gan_tf.files import DirectoryLock, remove_abandoned
from gan_tf.messages import get_logger
# The run directory's names and loading live in `runs`; these stay importable from here.
from gan_tf.runs import (BEST_DIR, CHECKPOINTS_DIR, CONFIG_FILE, EXPORT_DIR,  # noqa: F401
                         METRICS_FILE, SAMPLES_DIR, build_gan, load_run, read_run_config)

_logger = get_logger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What `train` did."""

    run_dir: str
    start_epoch: int  # finished epochs restored from a checkpoint (0 for a new run)
    end_epoch: int  # finished epochs now
    seconds: float  # wall time of fit
    images_per_second: float  # real images consumed per second of fit (0 if nothing trained)
    export_path: str
    history: dict

    @property
    def trained(self):
        return self.end_epoch > self.start_epoch


def train(config, extra_callbacks=(), verbose=2):
    """Trains a GAN as `config` says, resuming from the run directory if it has a checkpoint.

    Args:
        config: a `TrainConfig`.
        extra_callbacks: more Keras callbacks for `fit`.
        verbose: `fit`'s verbosity (2: one line per epoch).

    Returns:
        A `TrainResult`.

    Raises:
        UserError: bad data, a run directory that belongs to another config or is not
            writable (nothing has been written when it is raised), or `TrainingDiverged`
            when a loss becomes NaN/inf (the last good checkpoint is kept).

    Note: for same-seed reproducibility it calls
    `tf.config.experimental.enable_op_determinism()` and sets one inter-op thread (if
    TensorFlow has not run yet), which stay so in this process.
    """
    import keras
    import tensorflow as tf

    _one_inter_op_thread(tf)
    config.validate()
    run_dir = config.resolved_output_dir()
    config = runs.adopt_recorded_conditional(run_dir, config)
    runs.check_run_dir(run_dir, config)  # reads only: a foreign or different run fails at once
    # The dataset less its --holdout split judges the samples; the GAN trains on `data`, the
    # --max_examples subset of it (the same images load_images(max_examples=...) gives).
    run_data = runs.load_run_data(config)
    full, data = run_data.visible_data, run_data.train_data
    data_lib.check_batch_size(data, config.batch_size)
    if config.conditional is None:  # the default: conditional when the data has classes
        config = dataclasses.replace(config, conditional=bool(
            data.labels is not None and (data.num_classes or 0) >= 2))
    num_classes = _conditional_classes(config, data)
    strategy = distribute.make_strategy(config.strategy)
    slow_precision = hardware.precision_warning(
        config.precision, distribute.on_accelerator(strategy), hardware.cpu_flags())
    if slow_precision:
        _logger.warning(slow_precision)
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    # Models, optimizers and metrics live in the strategy's scope. Refuses image shapes the
    # networks cannot take.
    with strategy.scope():
        gan = build_gan(config, data.image_shape, num_classes)
    runs.check_checkpoint_matches(run_dir, gan)  # a hand-edited config.json, named at once
    if strategy.num_replicas_in_sync > 1 or distribute.is_multi_worker(strategy):
        _logger.info(f"Distributed: {distribute.describe(strategy)}; "
                     f"global batch {config.batch_size}.")
    with distribute.peer_failures_as_user_errors(strategy):
        if not distribute.is_chief(strategy):
            result = _train_as_worker(_Run(config, run_dir, data, data, num_classes, gan,
                                           strategy, None, tuple(extra_callbacks), verbose,
                                           chief=False, run_data=run_data))
        else:
            judge = _check_judge(config, full)  # refuses missing Inception weights now
            runs.make_run_dir(run_dir)  # the first write
            run = _Run(config, run_dir, data, full, num_classes, gan, strategy, judge,
                       tuple(extra_callbacks), verbose, run_data=run_data)
            # One process per run directory; the kernel drops the lock if this one is killed.
            with DirectoryLock(run_dir, what=f"The run directory {run_dir}"):
                result = _train_locked(run)
    if distribute.is_multi_worker(strategy):
        _logger.info(distribute.fingerprint_line(gan))
    return result


def _one_inter_op_thread(tf):
    """Runs independent ops one after another, so same-seed runs are bit-identical.

    With 2 inter-op threads, a discriminator's independent branches (real, fake, penalties)
    ran side by side and oneDNN split their float sums differently from run to run: 3 of 6
    resumes of dcgan + SN + GP + R1 + 2 D steps + EMA differed by 5e-4..4e-3 (two straight
    runs too); with one thread, 18 of 18 train calls were identical, at the same speed on
    this 2-core CPU. Intra-op threads (inside one matmul or convolution) are untouched.
    """
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran ops in this process with another value
        if tf.config.threading.get_inter_op_parallelism_threads() != 1:
            _logger.info("Note: TensorFlow was already running with several inter-op "
                         "threads, so reruns of this training may differ by float round-off.")


def _train_as_worker(run):
    """A multi-worker non-chief: trains in step with the chief on a private copy of its run.

    It restores the chief's newest checkpoint (the run directory must be on a filesystem every
    worker sees, or copied to each), makes the same collective calls as the chief (the
    checkpoint saves read the all-reduced loss means), writes only into a temporary folder
    and deletes it at the end. No scores, no export.
    """
    import shutil
    import tempfile

    local = tempfile.mkdtemp(prefix="gan_tf_worker_")
    try:
        if os.path.isdir(os.path.join(run.run_dir, CHECKPOINTS_DIR)):
            shutil.copytree(os.path.join(run.run_dir, CHECKPOINTS_DIR),
                            os.path.join(local, CHECKPOINTS_DIR),
                            ignore=shutil.ignore_patterns("*_temp*"))
        result = _train_locked(dataclasses.replace(run, run_dir=local))
    finally:
        shutil.rmtree(local, ignore_errors=True)
    return dataclasses.replace(result, run_dir=run.run_dir, export_path=None)


@dataclasses.dataclass(frozen=True)
class _Run:
    """One training run, as `train` prepared it: what every step of the story below needs."""

    config: object  # TrainConfig
    run_dir: str  # where it writes (a worker's private copy for a multi-worker non-chief)
    data: object  # the images the GAN trains on (ImageData)
    full: object  # the dataset less its held-out split, which judges the samples
    num_classes: object  # classes of a conditional run, else None
    gan: object
    strategy: object
    judge: object  # what scores samples during training ("classifier", an extractor, None)
    extra_callbacks: tuple
    verbose: int
    run_data: object  # runs.RunData: the dataset and how the run splits it
    chief: bool = True  # the process that writes the run and exports the generator

    @property
    def export_path(self):
        return os.path.join(self.run_dir, EXPORT_DIR)

    def export(self):
        from gan_tf import export_lib

        export_lib.export_generator(self.gan.sampling_generator(), self.export_path,
                                metadata=runs.export_metadata(
                                    self.config, self.data.class_names, self.data.num_classes))


def _train_locked(run):
    """`train` once the run directory is checked and locked: restore, then finish or train."""
    from gan_tf import callbacks as callbacks_lib

    runs.check_links(run.run_dir)
    for path in remove_abandoned(run.run_dir, recursive=True):
        _logger.info(f"Removed {path}, left half-written by a process that was killed.")
    _drop_unreadable_latents(run)
    checkpoint = callbacks_lib.ResumableCheckpoint(
        os.path.join(run.run_dir, CHECKPOINTS_DIR), max_to_keep=run.config.keep_checkpoints,
        every_n_epochs=run.config.checkpoint_every_n_epochs,
        every_n_steps=run.config.checkpoint_every_n_steps or None,
        handle_sigterm=True, save_running_means=not distribute.is_multi_worker(run.strategy))
    start_epoch = checkpoint.restore(run.gan)
    distribute.check_same_start(run.strategy, start_epoch, checkpoint.resume_step)
    if start_epoch >= run.config.epochs:
        return _complete_finished_run(run, start_epoch)
    return _train_remaining_epochs(run, checkpoint, start_epoch)


def _drop_unreadable_latents(run):
    """Removes a torn or foreign `samples/latents.npy`, which the grid then draws again.

    The grid's latents are a pure function of --seed (and the grid's and latents' sizes), so
    the file drawn again is the one a kill -9 or a careless edit destroyed; nothing else reads
    it. A readable file of the right shape is kept as it is.
    """
    import numpy as np

    path = os.path.join(run.run_dir, SAMPLES_DIR, "latents.npy")
    if not os.path.lexists(path):
        return
    rows, _ = grid_rows(run.num_classes)
    expected = (rows * 10, run.config.latent_dim)
    try:
        latents = np.load(path, allow_pickle=False)
        if not isinstance(latents, np.ndarray):
            raise ValueError("not a .npy file")
        if latents.shape != expected or latents.dtype.kind != "f":
            raise ValueError(f"shape {latents.shape} and dtype {latents.dtype}, expected "
                             f"{expected} floats")
        if not np.isfinite(latents).all():
            raise ValueError("it holds NaN or infinite values")
    except (OSError, ValueError, EOFError) as error:
        if os.path.isdir(path) and not os.path.islink(path):
            raise UserError(f"{path} is a folder, where the run keeps the grid's latent "
                            "vectors; move it away and rerun.") from None
        os.remove(path)
        _logger.info(f"{path} was unreadable ({first_line(error, 120) or type(error).__name__}"
                     f"); the grid's latents are drawn again from --seed={run.config.seed}.")


def _complete_finished_run(run, epochs):
    """A run with nothing left to train: writes what a kill after its last checkpoint left
    out (final grid, loss plot, export), and nothing else."""
    _logger.info(f"The run in {run.run_dir} already finished {epochs} of {run.config.epochs} "
                 "epochs; nothing to train. Pass a larger --epochs to train on, or another "
                 "--output_dir.")
    grid = _sample_grid(run.config, run.run_dir, run.num_classes, None)
    final = os.path.join(grid.directory, grid.FINAL_FILE)
    if not os.path.exists(final):
        grid.set_model(run.gan)
        grid.finish(epochs)
        _logger.info(f"Wrote the missing {final}")
    metrics_log = _metrics_log(run.run_dir)
    if not os.path.exists(metrics_log.plot_path):
        metrics_log.on_train_end()
    if run.chief and not os.path.exists(run.export_path):
        run.export()
        _logger.info(f"Exported the generator to {run.export_path}")
    return TrainResult(run.run_dir, epochs, epochs, 0.0, 0.0, run.export_path, {})


def _train_remaining_epochs(run, checkpoint, start_epoch):
    """Trains from the restored position to `config.epochs`, then exports (chief)."""
    config, start_step = run.config, checkpoint.resume_step
    quality = _sample_quality(config, run.full, run.judge, run.run_dir)
    runs.write_config(run.run_dir, config, run.data)
    if len(run.run_data.held_out):
        runs.write_holdout(run.run_dir, run.run_data)
    callbacks = _callbacks(run, checkpoint, quality)
    steps_per_epoch = len(run.data) // config.batch_size
    streamed = ""
    if data_lib.is_streamed(run.data):
        streamed = (" (streamed from disk)" if config.data_cache == "stream" else
                    " (streamed from disk: the decoded pixels would not fit in memory)")
    _logger.info(f"Training {config.architecture} ({_objective(config)}) on {run.data.name}: "
                 f"{len(run.data)} images of {_size_text(run.data.image_shape)}"
                 f"{streamed}, epochs {start_epoch + 1}-{config.epochs}, {steps_per_epoch} steps of "
                 f"{config.batch_size}"
            + f" (resuming at step {start_step + 1} of epoch {start_epoch + 1})"
            * bool(start_step) + f". Run: {run.run_dir}")
    started = time.perf_counter()
    try:
        history = _fit(run.gan, run.data, config, start_epoch, start_step, callbacks,
                       run.verbose)
    except OSError as error:
        raise _write_failed(error, checkpoint) from None
    except Exception as error:  # noqa: BLE001 - only an unreadable streamed image is handled
        failure = _unreadable_image(run.data, error)
        if failure is None:
            raise
        raise _stopped_on_unreadable_image(failure, checkpoint) from None
    finally:
        checkpoint.stop_handling_sigterm()
    seconds = time.perf_counter() - started
    if run.chief:
        run.export()
    # A callback may end training early (`model.stop_training`: EarlyStopping at an epoch's
    # end, TerminateOnNaN inside one): where training stopped is the checkpoint's position.
    epoch, steps = checkpoint.position
    end_epoch = epoch + 1 if steps >= steps_per_epoch else epoch
    trained_images = ((epoch - start_epoch) * steps_per_epoch + steps - start_step
                      ) * config.batch_size
    result = TrainResult(run.run_dir, start_epoch, end_epoch, seconds,
                         trained_images / seconds, run.export_path, history)
    from gan_tf.callbacks import SampleGrid

    final = os.path.join(run.run_dir, SAMPLES_DIR, SampleGrid.FINAL_FILE)
    where = (f"Samples: {final}; generator: {run.export_path}" if run.chief
             else "The chief wrote the run directory")
    done = (f"Finished epoch {end_epoch}" if end_epoch >= config.epochs else
            f"A callback stopped training after epoch {end_epoch} of {config.epochs} (rerun "
            "the same command to go on)")
    _logger.info(f"{done} in {seconds:.1f} s ({result.images_per_second:.0f} images/s). "
                 f"{where}")
    return result


def _size_text(image_shape):
    """(H, W, C) -> "64x48 px, RGB": width x height, as --image_size takes it."""
    height, width, channels = image_shape
    return f"{width}x{height} px, {'grayscale' if channels == 1 else 'RGB'}"


def _callbacks(run, checkpoint, quality):
    """The callbacks of a run's `fit`, in the order Keras calls them at each epoch's end:

    1. `SampleQuality` (when scoring) and 2. `TrainingHealth` (chief only) write their
       scores and health flags into the epoch's `logs`, so they come first;
    3. `MetricsLog` writes those logs (losses and scores) as one metrics.jsonl line;
    4. `SampleGrid` writes the fixed-latent grid;
    5. `StopOnNonFinite` stops on a NaN/inf loss or gradient norm before
    6. `ResumableCheckpoint` could save the diverged state (it also saves in-epoch every
       N steps and on SIGTERM, at batch ends);
    7. TensorBoard (`--tensorboard`) reads the same logs; then the caller's own callbacks.
    """
    import keras

    from gan_tf import callbacks as callbacks_lib

    config = run.config
    tensorboard_dir = (os.path.join(run.run_dir, runs.TENSORBOARD_DIR) if config.tensorboard
                       else None)
    callbacks = [quality] if quality else []
    if run.chief:
        callbacks.append(_training_health(config, run.data, run.num_classes))
    checkpoint.keep_state_of(*callbacks)  # their judgement resumes with the run
    callbacks += [
        _metrics_log(run.run_dir),
        _sample_grid(config, run.run_dir, run.num_classes, tensorboard_dir),
        callbacks_lib.StopOnNonFinite(),
        checkpoint,
    ]
    if tensorboard_dir:
        callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir, update_freq="epoch"))
    return callbacks + list(run.extra_callbacks)


HEALTH_SAMPLES = 256  # the health monitor's fixed latents (at least 2 per class)
HEALTH_REAL_IMAGES = 512  # training images it compares them with (at least 2 per class)


def _training_health(config, data, num_classes=None):
    """The health monitor: D overpowering G, and collapse against 512 of the training images.

    A conditional run with more than 128 classes gets 2 samples (and up to 2 real images) per
    class, as the monitor needs, instead of the 256 (512) that fit up to 128 classes.
    """
    from gan_tf.callbacks import TrainingHealth

    count = min(max(HEALTH_REAL_IMAGES, 2 * (num_classes or 0)), len(data))
    chosen = data_lib.subset_indices(data.labels, len(data), count, config.seed)
    return TrainingHealth(real_images=data.images[chosen],
                          real_labels=None if data.labels is None else data.labels[chosen],
                          num_samples=max(HEALTH_SAMPLES, 2 * (num_classes or 0)),
                          seed=config.seed)


def _metrics_log(run_dir):
    from gan_tf import callbacks as callbacks_lib

    return callbacks_lib.MetricsLog(os.path.join(run_dir, METRICS_FILE),
                                    plot_path=os.path.join(run_dir, runs.LOSSES_PLOT))


MAX_GRID_ROWS = 128  # a conditional run's grid has one row per class, up to this many


def grid_rows(num_classes):
    """`(rows, labels)` of a run's sample grid: one row per class (`labels` None), or for more
    than `MAX_GRID_ROWS` classes that many rows of classes spread evenly over all of them
    (`labels`: the class of each of the 10 cells of each row)."""
    import numpy as np

    if not num_classes or num_classes <= MAX_GRID_ROWS:
        return num_classes or 10, None
    classes = np.linspace(0, num_classes - 1, MAX_GRID_ROWS).round().astype(np.int32)
    return MAX_GRID_ROWS, np.repeat(classes, 10)


def _sample_grid(config, run_dir, num_classes, tensorboard_dir):
    from gan_tf import callbacks as callbacks_lib

    num_rows, labels = grid_rows(num_classes)
    return callbacks_lib.SampleGrid(
        os.path.join(run_dir, SAMPLES_DIR), num_rows=num_rows, num_cols=10, labels=labels,
        every_n_epochs=config.sample_every_n_epochs, seed=config.seed,
        gif_path=os.path.join(run_dir, runs.PROGRESS_GIF),
        tensorboard_dir=tensorboard_dir and os.path.join(tensorboard_dir, "samples"))


def _fit(gan, data, config, start_epoch, start_step, callbacks, verbose):
    """Trains epochs `start_epoch + 1 .. config.epochs`, the first from batch `start_step`.

    Each epoch's batches are a function of (seed, epoch) alone, so a resumed run sees the same
    batches as an uninterrupted one. A checkpoint saved inside an epoch (SIGTERM, or
    --checkpoint_every_n_steps) resumes with a `fit` over that epoch's remaining batches,
    then one over the other epochs. Returns the merged history dict.
    """
    steps_per_epoch = len(data) // config.batch_size
    history = {}
    if start_step:
        dataset = _batches(data, config, start_epoch, start_epoch + 1, start_step)
        partial = [_part_of_run(callback, config.epochs) for callback in callbacks]
        record = gan.fit(dataset, epochs=start_epoch + 1,
                         initial_epoch=start_epoch, steps_per_epoch=steps_per_epoch - start_step,
                         callbacks=partial, verbose=verbose, shuffle=False)
        history = dict(record.history)
        start_epoch += 1
        if gan.stop_training:  # a callback ended training in the resumed epoch
            return history
    if start_epoch < config.epochs:
        dataset = _batches(data, config, start_epoch, config.epochs)
        record = gan.fit(dataset, epochs=config.epochs, initial_epoch=start_epoch,
                         steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                         shuffle=False)
        for key, values in record.history.items():
            history[key] = history.get(key, []) + list(values)
    else:
        for callback in callbacks:  # the resumed epoch was the last: end the run properly
            callback.on_train_end({})
    return history


def _batches(data, config, start_epoch, end_epoch, start_step=0):
    """`make_dataset`'s global batches, which a strategy splits across replicas and workers.

    Every worker builds the same batches; sharding by DATA gives each replica its slice of
    every global batch, so the run sees the batches of a single-device run.
    """
    import tensorflow as tf

    dataset, _ = data_lib.make_dataset(data, config.batch_size, config.seed, start_epoch,
                                       end_epoch, start_step=start_step)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _part_of_run(callback, epochs):
    """`callback` for the `fit` that finishes an epoch resumed in its middle (`PartOfRun`)."""
    from gan_tf.callbacks.checkpoint import PartOfRun

    return PartOfRun(callback, epochs)


def _write_failed(error, checkpoint):
    """The UserError for a failed write (disk full, permissions) during training."""
    what = error.filename or "a file of the run"
    reason = error.strerror or str(error)
    paths = checkpoint.checkpoint_paths()
    kept = (f"the last checkpoint, {os.path.basename(paths[0])}, is intact" if paths
            else "no checkpoint was written yet")
    return UserError(f"Could not write {what}: {reason}. Training stopped; {kept}. Free disk "
                     "space (or fix permissions) and rerun the same command to resume.")


def _unreadable_image(data, error):
    """The `UnreadableImage` behind `error` when a streamed file failed to decode, else None.

    The decoding runs inside tf.data, which hands the failure to `fit` as a TensorFlow error;
    the `FileImages` keeps the original (file and reason)."""
    import tensorflow as tf

    if not (data_lib.is_streamed(data) and isinstance(error, tf.errors.OpError)):
        return None
    message = str(error)  # names the file of the batch that failed (others may fail ahead)
    return next((failure for file, failure in data.images.failures.items()
                 if file in message), None)


def _stopped_on_unreadable_image(failure, checkpoint):
    """Saves the training done so far and returns the `UserError` that names the file."""
    epoch, step = checkpoint.position
    try:
        path = checkpoint.save_position()  # not again when nothing trained since the last
        where = f"epoch {epoch + 1}, batch {step}" if step else f"the end of epoch {epoch}"
        kept = (f"saved {os.path.basename(path)} at {where}" if path else
                "no checkpoint was written")
    except Exception as error:  # noqa: BLE001 - the older checkpoints are intact
        paths = checkpoint.checkpoint_paths()
        kept = (f"could not save ({type(error).__name__}); {os.path.basename(paths[0])} is "
                "intact" if paths else "no checkpoint was written")
    return UserError(
        f"Training stopped: cannot read the image file {failure.file} ({failure.reason}); "
        f"{kept}. Replace the file with a readable image of the same name and rerun the same "
        "command to resume (removing it changes the dataset: that needs a new "
        "--output_dir).")


def _check_judge(config, data):
    """What will judge samples during training: "classifier", an Inception extractor (the
    reference FID graph or Keras weights), or None (scoring off). Raises UserError now for
    what would fail later (no file, a wrong checksum)."""
    if not config.eval_every_n_epochs:
        return None
    from gan_tf import features as features_lib

    if config.extractor != "classifier":
        return features_lib.get_extractor(config.extractor,
                                          inception_weights=config.inception_weights,
                                          inception_sha256=config.inception_sha256)
    problem = features_lib.classifier_problem(data)
    if problem:
        _logger.info(f"No sample-quality scores during training: {problem} Pass "
                     "--extractor=inception (the reference FID graph on disk) to score it, or "
                     "--eval_every_n_epochs=0 to silence this.")
        return None
    return "classifier"


def _sample_quality(config, data, judge, run_dir):
    """The `SampleQuality` callback the config asks for (judging against `data`), or None."""
    if judge is None:
        return None
    from gan_tf import callbacks as callbacks_lib
    from gan_tf import features as features_lib

    if judge == "classifier":
        judge = features_lib.DomainClassifier.for_dataset(data)
    real = features_lib.real_features(judge, data)
    return callbacks_lib.SampleQuality(
        judge, real, every_n_epochs=config.eval_every_n_epochs,
        num_samples=config.eval_num_samples, seed=config.seed,
        best_checkpoint_dir=os.path.join(run_dir, BEST_DIR))


def _conditional_classes(config, data):
    """The number of classes a conditional run trains on (None when not conditional)."""
    if not config.conditional:
        return None
    if data.labels is None or not data.num_classes:
        raise UserError(
            f"--conditional needs a labelled dataset, but {data.name} has no labels. Use "
            "embedded_mnist, a labelled tensorflow-datasets dataset, or folder:PATH with one "
            "sub-folder per class; or drop --conditional.")
    if data.num_classes < 2:
        raise UserError(f"--conditional needs at least 2 classes; {data.name} has "
                        f"{data.num_classes}. Drop --conditional.")
    return data.num_classes


def _objective(config):
    parts = [f"{config.loss} loss"]
    if config.conditional:
        parts.insert(0, "class-conditional")
    if config.gradient_penalty:
        parts.append(f"gradient penalty {config.gradient_penalty:g}")
    if config.r1_penalty:
        parts.append(f"R1 {config.r1_penalty:g}")
    if config.mode_seeking:
        parts.append(f"mode seeking {config.mode_seeking:g}")
    if config.discriminator_steps > 1:
        parts.append(f"{config.discriminator_steps} D steps per G step")
    if config.spectral_norm:
        parts.append("spectral norm on D")
    if config.attention_resolution:
        parts.append(f"self-attention at {config.attention_resolution} px")
    if config.ema_decay is not None:
        parts.append(f"EMA of G {config.ema_decay:g}")
    if config.augment != "none":
        parts.append(f"{config.augment} augmentation")
    if config.precision != "float32":
        parts.append(config.precision)
    generator_optimizer, discriminator_optimizer = config.player_optimizers
    if generator_optimizer == discriminator_optimizer != "adam":
        parts.append(f"{generator_optimizer} for both players")
    elif generator_optimizer != discriminator_optimizer:
        parts.append(f"{generator_optimizer} for G, {discriminator_optimizer} for D")
    if config.latent_distribution != "normal":
        parts.append(f"{config.latent_distribution} latents")
    if config.generator_activation is not None:
        parts.append(f"{config.generator_activation} in G")
    if config.discriminator_activation != "leaky_relu":
        parts.append(f"{config.discriminator_activation} in D")
    return ", ".join(parts)
