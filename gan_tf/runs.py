"""The run directory, defined once: its layout, its config.json, its checks, and loading it.

A run directory (`train --output_dir`, default `runs/DATASET-ARCHITECTURE`) holds:
    config.json       the resolved config, library versions and dataset facts
    holdout.json      with --holdout: the held-out test split's image indices
    checkpoints/      tf.train checkpoints (both networks, both optimizers, epoch)
    samples/          latents.npy and the fixed-latent grids epoch_NNNN.png, final.png
    metrics.jsonl     one JSON line per epoch (with fd, kid, class_coverage every
                      --eval_every_n_epochs); losses.png, the curves
    best_checkpoint/  the checkpoint with the best FD so far, and best.json
    progress.gif      the epoch grids, animated
    generator/        the exported SavedModel (loads without gan_tf)
    tensorboard/      with --tensorboard
    evaluation/       what `evaluate` writes (evaluation_best/ for --checkpoint=best;
                      downstream/ for `evaluate --downstream`; human/ for the
                      pages, keys and report of `evaluate --human`)

Importing this module does not import TensorFlow; `build_gan`, `load_run` and
`write_config` do when called.
"""

import dataclasses
import importlib.metadata
import json
import os

from gan_tf.config import TrainConfig
from gan_tf.errors import UserError, first_line
from gan_tf.files import DirectoryLock, atomic_write_text, check_writable_directory

CONFIG_FILE = "config.json"
HOLDOUT_FILE = "holdout.json"
CHECKPOINTS_DIR = "checkpoints"
SAMPLES_DIR = "samples"
METRICS_FILE = "metrics.jsonl"
LOSSES_PLOT = "losses.png"
PROGRESS_GIF = "progress.gif"
BEST_DIR = "best_checkpoint"
EXPORT_DIR = "generator"
EXPORT_METADATA_FILE = "gan_tf.json"  # beside an exported generator's SavedModel files
TENSORBOARD_DIR = "tensorboard"
CHECKPOINTS = ("latest", "best")


def evaluation_dir(run_dir, checkpoint="latest"):
    """Where `evaluate` writes its report for a run's `checkpoint` ("latest" or "best")."""
    return os.path.join(run_dir, "evaluation" if checkpoint == "latest"
                        else f"evaluation_{checkpoint}")


def read_run_config(run_dir):
    """`(TrainConfig, dataset facts)` from a run directory's config.json; UserError if unreadable.

    The dataset facts are a dict with "name", "num_examples", "image_shape" (a tuple),
    "num_classes" (None for unlabelled data) and "class_names" (when recorded).
    """
    config_path = os.path.join(run_dir, CONFIG_FILE)
    try:
        with open(config_path, encoding="utf-8") as stream:
            record = json.load(stream)
        dataset = dict(record["dataset"])
        dataset["image_shape"] = tuple(dataset["image_shape"])
        dataset.setdefault("num_classes", None)
        values = dict(record["config"])
        # Runs written before `conditional` existed, or before its default became "when the
        # data has labels", were unconditional; a run's record is never left undecided.
        if values.get("conditional") is None:
            values["conditional"] = False
        # Before the reference FID graph (recorded with its inception_sha256 field),
        # "inception" meant Keras's InceptionV3 weights, now "keras_inception".
        if values.get("extractor") == "inception" and "inception_sha256" not in values:
            values["extractor"] = "keras_inception"
        # The run is where it was read from: a run folder moved or copied elsewhere still
        # names its first place in config.json until it trains again.
        values["output_dir"] = os.path.abspath(run_dir)
        return TrainConfig.from_dict(values), dataset
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{run_dir} is not a readable gan_tf run ({config_path}: {error}). "
                        "Restore it, or pass the --output_dir of a training run.") from None


@dataclasses.dataclass
class RunData:
    """A run's dataset and how the run splits it (`split_indices`).

    `everything` is the dataset as loaded; the GAN trains on `trained` (indices into it);
    `held_out` is the `--holdout` test split (empty without one), which nothing in the run
    sees: not the GAN, not the judge of its samples, not the best-checkpoint choice.
    """

    everything: object  # ImageData
    trained: object  # np.ndarray of indices
    held_out: object  # np.ndarray of indices

    @property
    def train_data(self):
        """The images the GAN trains on."""
        from gan_tf import data as data_lib

        return data_lib.take(self.everything, self.trained)

    @property
    def visible_data(self):
        """Everything but the held-out split: what judges the samples during training."""
        import numpy as np

        from gan_tf import data as data_lib

        if not len(self.held_out):
            return self.everything
        return data_lib.take(self.everything,
                             np.setdiff1d(np.arange(len(self.everything)), self.held_out))

    @property
    def test_data(self):
        """The held-out images (none without `--holdout`)."""
        from gan_tf import data as data_lib

        return data_lib.take(self.everything, self.held_out)


def load_run_data(config, download=None):
    """The `RunData` of `config`: its dataset loaded and split as training splits it."""
    from gan_tf import data as data_lib

    everything = data_lib.load_images(
        config.dataset, data_dir=config.data_dir,
        download=config.download if download is None else download,
        image_size=config.image_size, cache=config.data_cache)
    if config.holdout and everything.labels is None:
        raise UserError(f"--holdout={config.holdout} needs a labelled dataset, but "
                        f"{everything.name} has no labels: the held-out split tests a "
                        "classifier. Use a labelled dataset (folder:PATH with one sub-folder "
                        "per class, or a .npz with labels) or drop --holdout.")
    trained, held_out = data_lib.split_indices(everything.labels, len(everything),
                                               config.holdout, config.max_examples,
                                               config.seed)
    if config.holdout:
        _check_holdout(config.holdout, everything, held_out)
    return RunData(everything, trained, held_out)


def _check_holdout(holdout, data, held_out):
    """Refuses a --holdout that holds out no image of some class (before anything is written).

    Each class gives `round(holdout x its size)` images; a class left with none could not be
    tested, and with none at all `evaluate --downstream` would find no test split.
    """
    import math

    import numpy as np

    counts = np.bincount(data.labels, minlength=data.num_classes or 0)
    held = np.bincount(data.labels[held_out], minlength=len(counts))
    empty = [c for c in range(len(counts)) if counts[c] and not held[c]]
    if not empty:
        return
    smallest = int(counts[counts > 0].min())
    enough = math.ceil(100 / smallest) / 100  # every class of `smallest` images gives one
    names = data.class_names or [str(c) for c in range(len(counts))]
    shown = ", ".join(f"{names[c]} ({counts[c]} images)" for c in empty[:5])
    more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
    from gan_tf.config import MAX_HOLDOUT

    if enough > MAX_HOLDOUT:
        fix = (f"Drop --holdout: its largest value, {MAX_HOLDOUT}, holds out nothing of a "
               f"class of {smallest} image(s); or add images to those classes")
    else:
        fix = f"Pass --holdout={enough:g} or more, or drop --holdout"
    raise UserError(f"Invalid value for argument holdout. Received: holdout={holdout!r}, which "
                    f"holds out {len(held_out)} of {len(data)} images and none of "
                    f"{len(empty)} class(es): {shown}{more}. Expected a fraction that keeps "
                    f"at least one image of every class for testing. {fix}; nothing was "
                    "written.")


def write_holdout(run_dir, run_data):
    """Records the held-out split in `RUN/holdout.json`, or checks it against the record.

    Raises UserError when a recorded split differs from `run_data`'s (the dataset changed
    since the run started), so a resumed run can never train on its own test images.
    """
    path = os.path.join(run_dir, HOLDOUT_FILE)
    data = run_data.everything
    record = {"dataset": data.name, "num_images": len(data),
              "held_out": [int(i) for i in run_data.held_out]}
    if data.labels is not None:
        names = data.class_names or [str(c) for c in range(data.num_classes)]
        counts = {}
        for label in data.labels[run_data.held_out]:
            counts[names[int(label)]] = counts.get(names[int(label)], 0) + 1
        record["per_class"] = counts
    if os.path.exists(path):
        recorded = read_holdout(run_dir)
        if recorded["held_out"] != record["held_out"] or recorded["num_images"] != len(data):
            raise UserError(
                f"The held-out split recorded in {path} ({len(recorded['held_out'])} of "
                f"{recorded['num_images']} images) differs from the one the data gives now "
                f"({len(run_data.held_out)} of {len(data)}): the dataset changed since the run "
                "started, so resuming could train on test images. Restore the dataset, or "
                "train into a new --output_dir.")
        return
    atomic_write_text(path, json.dumps(record) + "\n")


def read_holdout(run_dir):
    """The record of `write_holdout`; UserError when the run has none or it is unreadable."""
    path = os.path.join(run_dir, HOLDOUT_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            record = json.load(stream)
        if not isinstance(record["held_out"], list):
            raise ValueError("held_out is not a list")
        return record
    except FileNotFoundError:
        raise UserError(f"{run_dir} was trained without a held-out test split (no {path}). "
                        "Train with --holdout=0.2 (a fifth of each class kept for testing) "
                        "to measure what its samples are worth to a classifier.") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path} cannot be read ({first_line(error)}). Restore it, or train "
                        "again with --holdout into a new --output_dir.") from None


def build_gan(config, image_shape, num_classes=None):
    """The compiled `GAN` that `config` describes, for images of `image_shape`.

    `num_classes` is needed when `config.conditional` (the dataset's number of classes).
    """
    import keras

    from gan_tf import networks
    from gan_tf.gan import GAN

    if config.conditional and not num_classes:
        raise UserError("A conditional GAN needs the number of classes of its dataset.")
    num_classes = num_classes if config.conditional else None
    # The networks' layers take the precision policy when they are created; the global
    # policy is put back afterwards so nothing else built in this process inherits it.
    previous_policy = keras.dtype_policies.get(keras.config.dtype_policy())
    keras.config.set_dtype_policy(config.precision)
    try:
        generator = networks.make_generator(
            config.architecture, config.latent_dim, image_shape, config.dcgan_filters,
            num_classes=num_classes, activation=config.generator_activation,
            negative_slope=config.negative_slope,
            latent_distribution=config.latent_distribution,
            attention_resolution=config.attention_resolution)
        discriminator = networks.make_discriminator(
            config.architecture, image_shape, config.dcgan_filters, config.spectral_norm,
            num_classes=num_classes, activation=config.discriminator_activation,
            negative_slope=config.negative_slope,
            attention_resolution=config.attention_resolution)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    gan = GAN(generator, discriminator, seed=config.seed)
    use_ema = config.ema_decay is not None
    generator_kind, discriminator_kind = config.player_optimizers
    generator_optimizer = make_optimizer(
        generator_kind, config.generator_learning_rate, config, use_ema=use_ema,
        ema_momentum=config.ema_decay if use_ema else 0.99)
    discriminator_optimizer = make_optimizer(discriminator_kind,
                                             config.discriminator_learning_rate, config)
    if config.precision == "mixed_float16":
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
        generator_optimizer = keras.optimizers.LossScaleOptimizer(generator_optimizer)
        discriminator_optimizer = keras.optimizers.LossScaleOptimizer(discriminator_optimizer)
    gan.compile(
        generator_optimizer=generator_optimizer,
        discriminator_optimizer=discriminator_optimizer,
        loss=config.loss,
        gradient_penalty=config.gradient_penalty,
        r1_penalty=config.r1_penalty,
        mode_seeking=config.mode_seeking,
        discriminator_steps=config.discriminator_steps,
        update=config.update,
        augment=config.augment,
        ada_target=config.effective_ada_target,
        ada_ramp_images=config.effective_ada_ramp_images,
    )
    return gan


def make_optimizer(kind, learning_rate, config, **kwargs):
    """The Keras optimizer `kind` ("adam" or "rmsprop") at `learning_rate`, with `config`'s
    hyperparameters of that kind (Adam's betas, RMSprop's rho and momentum); `kwargs` (e.g.
    the EMA's) go to its constructor."""
    import keras

    if kind == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=config.rho,
                                        momentum=config.momentum, **kwargs)
    return keras.optimizers.Adam(learning_rate, beta_1=config.beta_1, beta_2=config.beta_2,
                                 **kwargs)


def load_run(run_dir, checkpoint="latest"):
    """The GAN of a run directory, restored from a checkpoint.

    Args:
        run_dir: the training run directory.
        checkpoint: "latest" (the newest readable checkpoint) or "best" (the one with the
            lowest FD during training, in `best_checkpoint/`).

    Returns:
        `(gan, config, epochs)`: epochs finished at that checkpoint. Sample with
        `gan.generate(n, seed)`.

    Raises:
        UserError: `run_dir` is not a gan_tf run or has no such readable checkpoint.
    """
    import tensorflow as tf

    from gan_tf import callbacks as callbacks_lib
    from gan_tf.errors import check_choice

    check_choice("checkpoint", checkpoint, CHECKPOINTS)
    config, dataset = read_run_config(run_dir)
    check_layout(run_dir)
    gan = build_gan(config, dataset["image_shape"], dataset["num_classes"])
    if checkpoint == "best":
        best_dir = os.path.join(run_dir, BEST_DIR)
        try:
            with open(os.path.join(best_dir, callbacks_lib.SampleQuality.BEST_FILE),
                      encoding="utf-8") as stream:
                epochs = int(json.load(stream)["epoch"])
            callbacks_lib.check_checkpoint_list(best_dir)  # reads nothing outside the run
            path = tf.train.latest_checkpoint(best_dir)
            if path is None:
                raise ValueError("no checkpoint file")
            tf.train.Checkpoint(**gan.checkpoint_items()).restore(path).expect_partial()
        except (OSError, ValueError, KeyError, TypeError, tf.errors.OpError) as error:
            raise UserError(f"{run_dir} has no readable best checkpoint ({best_dir}: "
                            f"{first_line(error, 200)}). It is kept when the run "
                            "scores samples (--eval_every_n_epochs); use --checkpoint=latest."
                            ) from None
        return gan, config, epochs
    check_checkpoint_matches(run_dir, gan)
    restored = callbacks_lib.ResumableCheckpoint(os.path.join(run_dir, CHECKPOINTS_DIR),
                                                 verbose=0)
    epochs = restored.restore(gan)
    if epochs == 0:
        raise UserError(f"{run_dir} has no checkpoint yet. Train it first (same command).")
    return gan, config, epochs


def check_checkpoint_matches(run_dir, gan, checkpoint_dir=None):
    """Refuses a run whose config.json builds networks other than its checkpoint holds.

    The newest checkpoint's weight shapes (as each player's optimizer lists them) are read
    from its index and compared with `gan`'s, before anything is restored: a hand-edited
    config.json (`"conditional": false`, another latent_dim or architecture) is named in one
    message instead of TensorFlow's restore warnings. A checkpoint that cannot be read is
    left to the restore, which falls back to an older one.
    """
    import re

    import tensorflow as tf

    folder = checkpoint_dir or os.path.join(run_dir, CHECKPOINTS_DIR)
    try:
        path = tf.train.latest_checkpoint(folder)
        saved = tf.train.load_checkpoint(path).get_variable_to_shape_map() if path else {}
    except (tf.errors.OpError, ValueError, OSError):
        return
    for player, model in (("generator", gan.generator), ("discriminator", gan.discriminator)):
        pattern = re.compile(rf"{player}_optimizer/(?:inner_optimizer/)?_trainable_variables/"
                             r"(\d+)/\.ATTRIBUTES/VARIABLE_VALUE")
        found = {}
        for key, shape in saved.items():
            match = pattern.fullmatch(key)
            if match:
                found[int(match.group(1))] = tuple(shape)
        if not found:
            continue
        recorded = [found[i] for i in sorted(found)]
        built = [tuple(v.shape) for v in model.trainable_variables]
        if recorded != built:
            differ = next((i for i, (a, b) in enumerate(zip(recorded, built)) if a != b),
                          min(len(recorded), len(built)))
            detail = (f"weight {differ} is {recorded[differ]} there, {built[differ]} here"
                      if differ < min(len(recorded), len(built)) else
                      f"{len(recorded)} weight arrays there, {len(built)} here")
            raise UserError(
                f"{os.path.join(run_dir, CONFIG_FILE)} does not describe the networks of "
                f"{path}: its {player} differs ({detail}). Was config.json edited (e.g. "
                "conditional, architecture, latent_dim, image_size)? Restore the values "
                "training wrote, or train into a new --output_dir.")


def adopt_recorded_conditional(run_dir, config):
    """`config`, its `conditional=None` (the default) replaced by the run's recorded value.

    The default became "conditional when the dataset has labels" after runs had been
    trained unconditionally by default; resuming one with the same command must continue it
    as it was, not refuse it as another configuration. A new run keeps None, which
    `train` resolves from the data.
    """
    import dataclasses

    if config.conditional is not None or not os.path.exists(os.path.join(run_dir,
                                                                         CONFIG_FILE)):
        return config
    saved, _ = read_run_config(run_dir)
    return dataclasses.replace(config, conditional=saved.conditional)


def export_metadata(config, class_names, num_classes, epochs=None, checkpoint=None):
    """What an export records about its run (gan_tf.json): dataset, classes, EMA, epochs.

    The one recipe for training's own export and `export_lib.export_model`'s re-export of a
    run; `epochs` defaults to the config's, `checkpoint` is recorded when given.
    """
    record = {"dataset": config.dataset, "data_dir": config.data_dir,
              "image_size": config.image_size, "max_examples": config.max_examples,
              "holdout": config.holdout,
              "class_names": None if class_names is None else list(class_names),
              "dataset_num_classes": num_classes, "conditional": config.conditional,
              "ema_decay": config.ema_decay,
              "epochs": config.epochs if epochs is None else epochs, "seed": config.seed}
    if checkpoint is not None:
        record["checkpoint"] = checkpoint
    return record


# What a run keeps in folders and in files: a hand-made file where a folder belongs (or a
# folder where a file belongs) is refused before anything is written.
RUN_FOLDERS = (CHECKPOINTS_DIR, SAMPLES_DIR, BEST_DIR, EXPORT_DIR, TENSORBOARD_DIR,
               "evaluation", "evaluation_best")
RUN_FILES = (CONFIG_FILE, HOLDOUT_FILE, METRICS_FILE, LOSSES_PLOT, PROGRESS_GIF)


def check_layout(run_dir):
    """Refuses a run directory whose folders are files or whose files are folders."""
    for names, wanted, is_right in ((RUN_FOLDERS, "folder", os.path.isdir),
                                    (RUN_FILES, "file", os.path.isfile)):
        for name in names:
            path = os.path.join(run_dir, name)
            if os.path.lexists(path) and not is_right(path):
                found = ("a folder" if os.path.isdir(path) else "a broken link"
                         if os.path.islink(path) and not os.path.exists(path) else
                         "a file" if os.path.isfile(path) else "not a regular file")
                raise UserError(
                    f"{path} is {found}, where a gan_tf run keeps its {name} {wanted}; "
                    "nothing was written. Move it out of the run directory (or restore the "
                    f"{wanted} it replaced) and rerun.")


def check_run_dir(run_dir, config):
    """Refuses a directory that is not ours or belongs to another config (writes nothing)."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.isdir(run_dir):
        check_layout(run_dir)
    if os.path.exists(config_path):
        saved, _ = read_run_config(run_dir)
        differences = saved.differences(config)
        if differences:
            lines = "; ".join(f"{name}: saved {old!r}, now {new!r}"
                              for name, (old, new) in sorted(differences.items()))
            raise UserError(f"{run_dir} holds a run with another configuration ({lines}). "
                            "Resume it with the same flags, or pass a new --output_dir.")
    try:
        if os.path.exists(run_dir) and not os.path.isdir(run_dir):
            raise UserError(f"--output_dir={run_dir} is a file. Expected a folder (new or "
                            "empty).")
        if not os.path.exists(config_path) and os.path.isdir(run_dir) and (
                set(os.listdir(run_dir)) - {DirectoryLock.FILE}):
            raise UserError(f"--output_dir={run_dir} is not empty and holds no {CONFIG_FILE}: "
                            "it is not a gan_tf run. Pass an empty or new folder.")
    except OSError as error:
        raise UserError(f"Cannot read --output_dir={run_dir}: {error.strerror or error}. "
                        "Pass a folder you can write to.") from None


def make_run_dir(run_dir):
    """Creates the run directory (if new) and proves it is writable."""
    try:
        check_writable_directory(run_dir)
    except OSError as error:
        raise UserError(f"Cannot write to --output_dir={run_dir}: {error.strerror or error}. "
                        "Pass a folder you can write to.") from None


def check_links(run_dir):
    """Refuses symbolic links in the run directory that lead out of it.

    Every file of a run is written inside its directory; a link (say `checkpoints` ->
    /elsewhere, or `metrics.jsonl` -> ~/.bashrc) would make gan_tf write or delete there.
    """
    root = os.path.realpath(run_dir)
    for folder, folders, files in os.walk(run_dir):
        for name in folders + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([root, target]) != root:
                    raise UserError(
                        f"{path} is a symbolic link to {target}, outside the run directory "
                        f"{run_dir}. gan_tf only writes inside its run directory; remove the "
                        "link (or copy what it points to into the run) and rerun.")


def write_config(run_dir, config, data):
    record = {
        "config": config.to_dict(),
        "run_dir": run_dir,
        "dataset": {"name": data.name, "num_examples": len(data),
                    "image_shape": list(data.image_shape), "num_classes": data.num_classes,
                    "class_names": None if data.class_names is None else list(
                        data.class_names)},
        "versions": library_versions({"tensorflow_datasets": "tensorflow-datasets",
                                      "pillow": "pillow"}),
    }
    atomic_write_text(os.path.join(run_dir, CONFIG_FILE), json.dumps(record, indent=2) + "\n")


def library_versions(packages=None):
    """The versions a run records in config.json: gan_tf, TensorFlow, Keras, NumPy and
    Python, and each of `packages` (`{key: distribution name}`) that the run's kind uses."""
    import platform

    import keras
    import numpy as np
    import tensorflow as tf

    versions = {"gan_tf": _version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                "numpy": np.__version__}
    versions.update({key: _package_version(name) for key, name in (packages or {}).items()})
    versions["python"] = platform.python_version()
    return versions


def _package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _version():
    from gan_tf import __version__

    return __version__
