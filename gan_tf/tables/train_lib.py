"""`train(config)` for a table: reads and checks it, splits it, fits the transformer, trains.

The run directory follows `gan_tf.runs` (config.json, checkpoints/, samples/, metrics.jsonl,
losses.png, generator/) plus the table's own files (`gan_tf.tables.data`). Everything that
can be refused (the table, its columns, the flags, a run directory of another run or another
table) is refused before anything is written. Running the same command again resumes from
the latest checkpoint, bit for bit as an uninterrupted run; a finished run is left as it is.
"""

import dataclasses
import json
import os
import time

from gan_tf import distribute, runs
from gan_tf.errors import UserError
from gan_tf.files import DirectoryLock, atomic_write_text
from gan_tf.messages import get_logger
from gan_tf.tables import config as config_lib
from gan_tf.tables import data as data_lib
from gan_tf.tables import schema as schema_lib

_logger = get_logger(__name__)


@dataclasses.dataclass
class TableTrainResult:
    """What `train` did."""

    run_dir: str
    start_epoch: int  # finished epochs restored from a checkpoint (0 for a new run)
    end_epoch: int  # finished epochs now
    seconds: float  # wall time of fit
    rows_per_second: float  # real rows judged by the critic per second of fit
    transformer_seconds: float  # fitting the mixtures (when this call fitted them; else 0)
    export_path: str
    history: dict

    @property
    def trained(self):
        return self.end_epoch > self.start_epoch


@dataclasses.dataclass
class _Table:
    """The table as a run sees it: checked, split, and its schema."""

    schema: object
    train: object  # the training rows (a seeded sample of them for a streamed table)
    holdout: object  # the held-out rows (likewise)
    num_rows: int
    scan: object = None  # a new streamed run's `stream.Scan`


def prepare_table(config, run_dir):
    """Reads, checks and splits the table; refuses a run directory of another run or table.

    Writes nothing. A resumed run takes its recorded splits (so a source file that was
    edited since cannot silently change the training rows). A streamed run
    (`--stream_chunk_rows`) reads the file in chunks (`gan_tf.tables.stream`) and keeps
    samples of the splits; on resume it checks the file's size against its record.
    """
    streamed = bool(config.stream_chunk_rows)
    config_path = os.path.join(run_dir, runs.CONFIG_FILE)
    if os.path.exists(config_path):
        saved = read_table_config(run_dir)
        differences = saved.differences(config)
        if differences:
            lines = "; ".join(f"{name}: saved {old!r}, now {new!r}"
                              for name, (old, new) in sorted(differences.items()))
            raise UserError(f"{run_dir} holds a run with another configuration ({lines}). "
                            "Resume it with the same flags, or pass a new --output_dir.")
        if data_lib.is_table_run(run_dir) and streamed:
            return _recorded_streamed_table(config, run_dir)
    elif os.path.isdir(run_dir) and (set(os.listdir(run_dir)) - {DirectoryLock.FILE}
                                     - data_lib.SETUP_NAMES):
        raise UserError(f"--output_dir={run_dir} is not empty and holds no "
                        f"{runs.CONFIG_FILE}: it is not a gan_tf run. Pass an empty or new "
                        "folder.")
    elif os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UserError(f"--output_dir={run_dir} is a file. Expected a folder (new or empty).")
    if streamed:
        from gan_tf.tables import stream as stream_lib

        scan = stream_lib.scan_table(config.path, config.stream_chunk_rows, config.holdout,
                                     config.seed)
        schema = stream_lib.streamed_schema(scan, target=config.target, kinds=config.kinds())
        return _Table(schema, scan.train_sample, scan.holdout_sample, scan.num_rows, scan)
    frame = schema_lib.read_table(config.path)
    schema = schema_lib.infer_schema(frame, target=config.target, kinds=config.kinds())
    if os.path.exists(config_path) and data_lib.is_table_run(run_dir):
        recorded = data_lib.read_schema(run_dir)
        if recorded != schema:
            changed = [c.name for c, r in zip(schema.columns, recorded.columns) if c != r]
            raise UserError(
                f"The table {config.path} changed since the run in {run_dir} started "
                f"(columns {', '.join(changed) or 'added or removed'} differ from its "
                "schema.json). Resume with the table it trained on, or pass a new "
                "--output_dir.")
        train, holdout = data_lib.read_run_splits(run_dir)
        return _Table(schema, train, holdout, len(frame))
    target = schema.column(config.target) if config.target else None
    train, holdout = data_lib.split_rows(frame, config.holdout, config.seed, config.target,
                                         discrete_target=bool(target and target.discrete))
    return _Table(schema, train, holdout, len(frame))


def _recorded_streamed_table(config, run_dir):
    """A streamed run's table as it recorded it (the file is checked by its size only: a
    streamed table is not read again to resume)."""
    from gan_tf.tables import stream as stream_lib

    record = stream_lib.read_stream_record(run_dir)
    if record is None or not stream_lib.has_row_cache(run_dir):
        raise UserError(f"{run_dir} holds a run that did not stream its table (or its "
                        f"{stream_lib.ROWS_FILE} is gone). Resume it with the flags it started "
                        "with, or pass a new --output_dir.")
    size = os.path.getsize(config.path) if os.path.isfile(config.path) else None
    if size != record["source_bytes"]:
        raise UserError(f"The table {config.path} changed since the streamed run in {run_dir} "
                        f"started ({size} bytes now, {record['source_bytes']} then). Resume "
                        "with the table it trained on, or pass a new --output_dir.")
    train, holdout = data_lib.read_run_splits(run_dir)
    return _Table(data_lib.read_schema(run_dir), train, holdout, record["num_rows"])


def read_table_config(run_dir):
    """The `TableConfig` of a table run's config.json."""
    path = os.path.join(run_dir, runs.CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            record = json.load(stream)
        if record.get("kind") != config_lib.KIND:
            raise UserError(f"{run_dir} holds an image run, not a table run. Pass a new "
                            "--output_dir for the table.")
        values = dict(record["config"])
        values["output_dir"] = os.path.abspath(run_dir)
        return config_lib.TableConfig.from_dict(values)
    except (OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, UserError):
            raise
        raise UserError(f"{run_dir} is not a readable gan_tf run ({path}: {error}). Restore "
                        "it, or pass the --output_dir of a training run.") from None


def train(config, extra_callbacks=(), verbose=2):
    """Trains CTGAN on `config`'s table, resuming from the run directory's checkpoint.

    Args:
        config: a `TableConfig`.
        extra_callbacks: more Keras callbacks for `fit`.
        verbose: `fit`'s verbosity (2: one line per epoch).

    Returns:
        A `TableTrainResult`.

    Raises:
        UserError: a bad table or flag, or a run directory of another run (nothing is
            written then), or `TrainingDiverged` on a NaN/inf loss.
    """
    import tensorflow as tf

    from gan_tf import train_lib as image_train_lib

    image_train_lib._one_inter_op_thread(tf)  # same-seed runs bit-identical (see there)
    config.validate()
    run_dir = config.resolved_output_dir()
    table = prepare_table(config, run_dir)
    transformer, transformer_seconds = _transformer(config, run_dir, table)
    streamed = _streamed_rows_count(config, run_dir, table, transformer)
    if streamed:
        rows, train_rows = None, streamed["train_rows"]
    else:
        rows = transformer.transform(table.train, seed=config.seed)
        train_rows = len(rows)
    steps_per_epoch = max(1, train_rows // config.batch_size)
    if train_rows < config.batch_size:
        raise UserError(f"The table has {train_rows} training rows, fewer than --batch_size="
                        f"{config.batch_size}. Pass a smaller --batch_size (a multiple of "
                        f"--pac={config.pac}), e.g. {_smaller_batch(len(rows), config.pac)}.")
    tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    unit = config.pac * replicas
    if config.batch_size % unit:
        raise UserError(f"--batch_size={config.batch_size} does not split into packs of "
                        f"--pac={config.pac} rows on each of the {replicas} replicas of "
                        f"{distribute.describe(strategy)}. Pass a multiple of {unit}, e.g. "
                        f"{unit * max(1, config.batch_size // unit)}.")
    with strategy.scope():
        gan = build_table_gan(config, transformer, rows,
                              counts=streamed and streamed["condition_counts"])
    if replicas > 1 or distribute.is_multi_worker(strategy):
        _logger.info(f"Distributed: {distribute.describe(strategy)}; global batch "
                     f"{config.batch_size}.")
    session = _Session(config, run_dir, gan, strategy, steps_per_epoch, tuple(extra_callbacks),
                       verbose, table, train_rows)
    with distribute.peer_failures_as_user_errors(strategy):
        if not distribute.is_chief(strategy):
            result = _train_as_worker(session)
        else:
            runs.make_run_dir(run_dir)  # the first write
            with DirectoryLock(run_dir, what=f"The run directory {run_dir}"):
                runs.check_links(run_dir)
                if not os.path.exists(os.path.join(run_dir, runs.CONFIG_FILE)):
                    # A new run, or the start of one killed before its config.json.
                    data_lib.write_run_files(run_dir, table.schema, transformer, table.train,
                                             table.holdout)
                    if streamed:
                        _write_streamed_rows(config, run_dir, table, transformer, streamed)
                write_config(run_dir, config, table, transformer)
                result = _train_locked(session)
    if distribute.is_multi_worker(strategy):
        _logger.info(distribute.fingerprint_line(gan))
    return dataclasses.replace(result, transformer_seconds=transformer_seconds)


@dataclasses.dataclass(frozen=True)
class _Session:
    """What training a prepared table run needs (`run_dir` is a worker's private copy for a
    multi-worker non-chief)."""

    config: object
    run_dir: str
    gan: object
    strategy: object
    steps_per_epoch: int
    extra_callbacks: tuple
    verbose: int
    table: object
    train_rows: int
    chief: bool = True


def _train_as_worker(session):
    """A multi-worker non-chief: trains in step with the chief on a private copy of its
    checkpoints (the run directory must be on a filesystem every worker sees), making the
    same collective calls, and deletes the copy at the end. No export."""
    import shutil
    import tempfile

    local = tempfile.mkdtemp(prefix="gan_tf_worker_")
    try:
        checkpoints = os.path.join(session.run_dir, runs.CHECKPOINTS_DIR)
        if os.path.isdir(checkpoints):
            shutil.copytree(checkpoints, os.path.join(local, runs.CHECKPOINTS_DIR),
                            ignore=shutil.ignore_patterns("*_temp*"))
        if session.config.stream_chunk_rows and session.table.scan is not None:
            from gan_tf.tables import stream as stream_lib  # a new streamed run: own rows

            config = session.config
            stream_lib.write_row_cache(local, config.path, config.stream_chunk_rows,
                                       config.holdout, config.seed, session.gan.transformer,
                                       session.table.scan)
        result = _train_locked(dataclasses.replace(session, run_dir=local, chief=False))
    finally:
        shutil.rmtree(local, ignore_errors=True)
    return dataclasses.replace(result, run_dir=session.run_dir, export_path=None)


def _picture_rows(train, num_rows, seed):
    """As many real training rows as the sample files hold, drawn once by `seed`, for the
    picture of real against generated columns (equal counts keep the panels comparable)."""
    if len(train) <= num_rows:
        return train
    return train.sample(n=num_rows, random_state=seed)


def _smaller_batch(num_rows, pac):
    return max(pac, (num_rows // 2) // pac * pac)


def _transformer(config, run_dir, table):
    """The run's fitted transformer: the recorded one on resume, else fitted now (timed)."""
    from gan_tf.tables.transformer import TableTransformer

    if os.path.exists(os.path.join(run_dir, runs.CONFIG_FILE)):  # a run started before
        return data_lib.read_transformer(run_dir), 0.0
    transformer = TableTransformer(table.schema, fit_rows=config.transformer_rows)
    transformer.fit(table.train, seed=config.seed)
    _logger.info(f"Fitted the Gaussian mixtures of {len(transformer.modes)} numeric columns "
                 f"on {transformer.fit_sample_rows} rows in {transformer.fit_seconds:.1f} s; "
                 f"a row is {transformer.output_dim} numbers.")
    return transformer, transformer.fit_seconds


def build_table_gan(config, transformer, rows, counts=None):
    """The compiled `TableGAN` of `config` (weights from its seed); for a streamed table
    `rows=None` and `counts`, the training rows per position of the conditional vector."""
    import keras

    from gan_tf.tables.model import TableGAN

    gan = TableGAN.build(transformer, rows, seed=config.seed, latent_dim=config.latent_dim,
                         pac=config.pac, counts=counts)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(
            config.generator_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        discriminator_optimizer=keras.optimizers.Adam(
            config.discriminator_learning_rate, beta_1=config.beta_1, beta_2=config.beta_2),
        gradient_penalty=config.gradient_penalty)
    return gan


def _streamed_rows_count(config, run_dir, table, transformer):
    """A streamed run's `{"train_rows", "condition_counts"}` (None for a table in memory):
    from the new run's scan of the file, or from the run's record."""
    if not config.stream_chunk_rows:
        return None
    from gan_tf.tables import stream as stream_lib

    if table.scan is None:
        record = stream_lib.read_stream_record(run_dir)
        return {"train_rows": record["train_rows"],
                "condition_counts": record["condition_counts"]}
    return {"train_rows": table.scan.train_rows,
            "condition_counts": stream_lib.condition_counts(table.scan, transformer)}


def _write_streamed_rows(config, run_dir, table, transformer, streamed):
    """Pass 2 of a streamed table (the transformed training rows on disk), then its record."""
    from gan_tf.tables import stream as stream_lib

    started = time.perf_counter()
    counts = stream_lib.write_row_cache(run_dir, config.path, config.stream_chunk_rows,
                                        config.holdout, config.seed, transformer, table.scan)
    if counts != streamed["condition_counts"]:
        raise UserError(f"The table {config.path} changed while it was read (its category "
                        "counts differ between the two passes). Train again once it is "
                        "written.")
    seconds = time.perf_counter() - started
    _logger.info(f"Streamed {table.scan.train_rows} training rows into "
                 f"{os.path.join(run_dir, stream_lib.ROWS_FILE)} in {seconds:.1f} s.")
    stream_lib.write_stream_record(run_dir, {
        "source_bytes": os.path.getsize(config.path), "num_rows": table.scan.num_rows,
        "train_rows": table.scan.train_rows, "holdout_rows": table.scan.holdout_rows,
        "chunk_rows": config.stream_chunk_rows, "sample_rows": len(table.train),
        "holdout_sample_rows": len(table.holdout), "condition_counts": counts,
        "cache_seconds": seconds})


def write_config(run_dir, config, table, transformer):
    record = {
        "kind": config_lib.KIND,
        "config": config.to_dict(),
        "run_dir": run_dir,
        "table": {"path": config.path, "num_rows": table.num_rows,
                  "train_rows": len(table.train), "holdout_rows": len(table.holdout),
                  "columns": len(table.schema.columns), "target": table.schema.target,
                  "row_width": transformer.output_dim,
                  "transformer_fit_rows": transformer.fit_sample_rows,
                  "transformer_seconds": transformer.fit_seconds,
                  "streamed": bool(config.stream_chunk_rows)},
        "versions": runs.library_versions({"pandas": "pandas",
                                           "scikit-learn": "scikit-learn"}),
    }
    atomic_write_text(os.path.join(run_dir, runs.CONFIG_FILE),
                      json.dumps(record, indent=2) + "\n")


def _train_locked(session):
    from gan_tf import callbacks as callbacks_lib
    from gan_tf.tables.callbacks import SampleRows

    config, run_dir, gan, table = session.config, session.run_dir, session.gan, session.table
    steps_per_epoch = session.steps_per_epoch
    multi_worker = distribute.is_multi_worker(session.strategy)
    checkpoint = callbacks_lib.ResumableCheckpoint(
        os.path.join(run_dir, runs.CHECKPOINTS_DIR), max_to_keep=config.keep_checkpoints,
        every_n_epochs=config.checkpoint_every_n_epochs,
        every_n_steps=config.checkpoint_every_n_steps or None, handle_sigterm=True,
        save_running_means=not multi_worker)
    start_epoch = checkpoint.restore(gan)
    distribute.check_same_start(session.strategy, start_epoch, checkpoint.resume_step)
    export_path = os.path.join(run_dir, runs.EXPORT_DIR)
    if start_epoch >= config.epochs:
        _logger.info(f"The run in {run_dir} already finished {start_epoch} of {config.epochs} "
                     "epochs; nothing to train. Pass a larger --epochs to train on, or another "
                     "--output_dir.")
        if session.chief and not os.path.exists(export_path):
            _export(gan, export_path)
        return TableTrainResult(run_dir, start_epoch, start_epoch, 0.0, 0.0, 0.0, export_path,
                                {})
    samples = SampleRows(os.path.join(run_dir, runs.SAMPLES_DIR), num_rows=config.sample_rows,
                         every_n_epochs=config.sample_every_n_epochs, seed=config.seed,
                         real=_picture_rows(table.train, config.sample_rows, config.seed),
                         schema=table.schema,
                         plot_every_n_epochs=max(1, config.epochs // 10))
    metrics_log = callbacks_lib.MetricsLog(os.path.join(run_dir, runs.METRICS_FILE),
                                           plot_path=os.path.join(run_dir, runs.LOSSES_PLOT))
    callbacks = [metrics_log, samples, callbacks_lib.StopOnNonFinite(), checkpoint,
                 *session.extra_callbacks]
    start_step = checkpoint.resume_step
    _logger.info(f"Training CTGAN on {os.path.basename(config.path)}: "
                 f"{gan.transformer.schema.names.__len__()} columns, "
                 f"{session.train_rows} training rows"
                 + " (streamed from disk)" * bool(config.stream_chunk_rows)
                 + f", epochs {start_epoch + 1}-"
                 f"{config.epochs}, {steps_per_epoch} steps of {config.batch_size}"
                 + f" (resuming at step {start_step + 1} of epoch {start_epoch + 1})"
                 * bool(start_step) + f". Run: {run_dir}")
    started = time.perf_counter()
    try:
        history = _fit(gan, config, steps_per_epoch, start_epoch, start_step, callbacks,
                       session.verbose, _batches(session))
    finally:
        checkpoint.stop_handling_sigterm()
    seconds = time.perf_counter() - started
    if session.chief:
        _export(gan, export_path)
    epoch, steps = checkpoint.position
    end_epoch = epoch + 1 if steps >= steps_per_epoch else epoch
    trained_rows = ((epoch - start_epoch) * steps_per_epoch + steps - start_step
                    ) * config.batch_size
    _logger.info(f"Finished epoch {end_epoch} in {seconds:.1f} s "
                 f"({trained_rows / max(seconds, 1e-9):.0f} rows/s). Samples: "
                 f"{os.path.join(run_dir, runs.SAMPLES_DIR)}; generator: {export_path}")
    return TableTrainResult(run_dir, start_epoch, end_epoch, seconds,
                            trained_rows / max(seconds, 1e-9), 0.0, export_path, history)


def _batches(session):
    """`batches(num_steps)`: what `fit` iterates for the next `num_steps` steps.

    For a table in memory, a step counter (`TableGAN.step_dataset`: the rows are drawn inside
    `train_step`); for a streamed table, the rows read from disk for the optimizer's next
    steps (`stream.StreamedRows.dataset`), the same draws of (seed, step)."""
    gan, batch_size = session.gan, session.config.batch_size
    if not session.config.stream_chunk_rows:
        return lambda num_steps: gan.step_dataset(batch_size, num_steps)
    from gan_tf.tables import stream as stream_lib

    # A worker that made its own copy of the rows reads it; one resuming reads the chief's.
    folder = session.run_dir if stream_lib.has_row_cache(session.run_dir) else (
        session.config.resolved_output_dir())
    rows = stream_lib.StreamedRows(folder, gan.condition_counts)

    def batches(num_steps):
        first = int(gan.discriminator_optimizer.iterations.numpy())
        return rows.dataset(gan, batch_size, first, num_steps)
    return batches


def _fit(gan, config, steps_per_epoch, start_epoch, start_step, callbacks, verbose, batches):
    """Trains epochs `start_epoch + 1 .. config.epochs`, the first from step `start_step`.

    Every draw of a step is a function of (seed, optimizer step), so the dataset only counts
    steps (or, streamed, reads the rows of those steps); a checkpoint saved inside an epoch
    resumes with a `fit` over that epoch's remaining steps, then one over the other epochs
    (as the image runs do)."""
    from gan_tf import train_lib as image_train_lib

    history = {}
    if start_step:
        partial = [image_train_lib._part_of_run(callback, config.epochs)
                   for callback in callbacks]
        remaining = steps_per_epoch - start_step
        record = gan.fit(batches(remaining), epochs=start_epoch + 1, initial_epoch=start_epoch,
                         steps_per_epoch=remaining, callbacks=partial, verbose=verbose,
                         shuffle=False)
        history = dict(record.history)
        start_epoch += 1
        if gan.stop_training:
            return history
    if start_epoch < config.epochs:
        dataset = batches((config.epochs - start_epoch) * steps_per_epoch)
        record = gan.fit(dataset, epochs=config.epochs, initial_epoch=start_epoch,
                         steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                         shuffle=False)
        for key, values in record.history.items():
            history[key] = history.get(key, []) + list(values)
    else:
        for callback in callbacks:
            callback.on_train_end({})
    return history


def _export(gan, export_path):
    from gan_tf.tables import export as export_lib

    export_lib.export_table_generator(gan, export_path)
