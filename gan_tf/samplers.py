"""Samplers: one interface to draw images from a training run, an export or a `.keras` file.

`load_sampler(path, checkpoint)` opens a training run directory (its newest or best
checkpoint, sampled with the EMA generator when the run keeps one), an exported generator
folder (loadable without gan_tf) or a generator saved as a `.keras` file (checked, then loaded
in Keras safe mode by `gan_tf.model_files`). A `Sampler` draws images in batches from one
seed; `gan_tf.generate_lib` writes them as datasets and `gan_tf.evaluate_lib` scores them.
TensorFlow is imported on first use.
"""

import os

import numpy as np

from gan_tf import progress, runs
from gan_tf.names import LATENT_DISTRIBUTIONS
from gan_tf.errors import (UserError, check_choice, check_positive_int, check_seed, first_line,
                           invalid)

_MODEL_EXPECTED = ("Expected a training run directory (with config.json, e.g. runs/NAME), an "
                   "exported generator folder (with gan_tf.json, e.g. runs/NAME/generator) or "
                   "a generator saved as a .keras file.")


class Sampler:
    """Images from a trained generator, however it was saved (see `load_sampler`).

    Attributes:
        num_classes: number of classes of a class-conditional generator, else None.
        class_names: the classes' names (str), index `k` names class `k`; `[]` when
            unconditional.
        image_shape: `(height, width, channels)`.
        latent_dim: size of the generator's latent input.
        latent_distribution: "normal" or "uniform" (U[-1, 1]): what its latents are drawn
            from.
        description: JSON-ready facts for a manifest: `path`, `kind` ("run", "export" or
            "keras"), `epochs` and `dataset` (None where unknown), `conditional`, `ema`.
    """

    def __init__(self, run_batch, latent_dim, image_shape, num_classes, class_names,
                 description, latent_distribution="normal"):
        self._run_batch = run_batch  # (latents, labels or None) -> float32 numpy images
        self.latent_dim = int(latent_dim)
        check_choice("latent_distribution", latent_distribution, LATENT_DISTRIBUTIONS)
        self.latent_distribution = latent_distribution
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes) if num_classes else None
        self.class_names = list(class_names) if self.num_classes else []
        self.description = dict(description)

    def labels_for(self, num_images, labels=None):
        """int32 class indices for `num_images` images (None when unconditional).

        `labels`: None (balanced over all classes: 0, 1, ..., 0, 1, ...), one class index for
        every image, or `num_images` class indices (`gan_tf.gan.class_labels`).
        """
        check_positive_int("num_images", num_images)
        if not self.num_classes:
            if labels is not None:
                raise invalid("labels", labels, "None: this generator is not class-conditional")
            return None
        from gan_tf.gan import class_labels

        return class_labels(num_images, self.num_classes, labels)

    def batches(self, num_images, seed=0, labels=None, batch_size=500):
        """Yields `(images, labels)` batches of at most `batch_size`, in order.

        The latents of all `num_images` images are drawn at once from `seed`
        (`gan_tf.gan.sample_latents`, in `latent_distribution`), as `GAN.generate` does, so
        the images do not depend on `batch_size` beyond float32 round-off (bit-identical at
        the same `batch_size` on one machine; below 1e-6 apart across batch sizes) and equal
        `GAN.generate(num_images, seed, labels=..., batch_size=...)`. `images` are float32
        numpy in [-1, 1]; `labels` int32 numpy, or None when unconditional.
        """
        from gan_tf.gan import sample_latents

        check_positive_int("batch_size", batch_size)
        check_seed(seed)
        labels = self.labels_for(num_images, labels)
        latents = sample_latents(num_images, self.latent_dim, seed, self.latent_distribution)
        bar = progress.bar(num_images, f"Drawing {num_images:,} samples")
        for images, part in self._batches_of(latents, labels, batch_size):
            bar.add(len(images))
            yield images, part

    def _batches_of(self, latents, labels, batch_size):
        """`(images, labels)` of `latents` (a tensor) in batches of at most `batch_size`."""
        for start in range(0, int(latents.shape[0]), batch_size):
            part = None if labels is None else labels[start:start + batch_size]
            images = self._run_batch(latents[start:start + batch_size], part)
            yield np.asarray(images, dtype=np.float32), part

    def images_for(self, latents, labels=None, batch_size=500):
        """The images of your own `latents` `(N, latent_dim)` (e.g. an interpolation, or
        truncated latents): float32 numpy in [-1, 1]. `labels` as in `labels_for`.
        `generate(n, seed)` is `images_for(gan_tf.gan.sample_latents(n, latent_dim, seed,
        latent_distribution))` bit for bit (the same batch size)."""
        latents = np.asarray(latents, np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim or not len(latents):
            raise invalid("latents", f"an array of shape {latents.shape}",
                          f"shape (N, {self.latent_dim}): N >= 1 latents of this generator")
        check_positive_int("batch_size", batch_size)
        import tensorflow as tf

        labels = self.labels_for(len(latents), labels)
        return np.concatenate([images for images, _ in self._batches_of(
            tf.constant(latents), labels, batch_size)])

    def generate(self, num_images, seed=0, labels=None, batch_size=500):
        """`num_images` images, float32 numpy `(N, H, W, C)` in [-1, 1]; see `batches`."""
        return np.concatenate([images for images, _ in self.batches(
            num_images, seed=seed, labels=labels, batch_size=batch_size)])


def load_sampler(model_path, checkpoint="latest"):
    """A `Sampler` for a training run directory, an exported generator or a `.keras` file.

    `checkpoint` ("latest" or "best") picks a run directory's checkpoint: the newest, or the
    one with the lowest FD during training. An export or a `.keras` file has one set of
    weights.

    A run directory (with config.json) is restored from its newest checkpoint and sampled
    with `GAN.sampling_generator()` (the EMA weights when the run keeps them). An export
    (with gan_tf.json, e.g. the run's `generator/`) is called through its `serve` signature,
    after `model_files.check_saved_model` found no file-system or Python op in its graph.
    For the same seed and labels both give the same images (up to float round-off).
    A `.keras` file holds a generator (latents -> images in [-1, 1], or `[latents, labels]`
    for a class-conditional gan_tf network) and is opened by
    `model_files.load_keras_generator`: checked without running anything, then loaded in
    Keras safe mode; `.h5`/`.hdf5` and other files are refused.

    Raises:
        UserError: the path is none of these, is refused as unsafe, or cannot be read.
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(model_path)))
    if os.path.isfile(os.path.join(path, runs.CONFIG_FILE)):
        return _run_sampler(path, checkpoint)
    if os.path.isfile(os.path.join(path, runs.EXPORT_METADATA_FILE)):
        _check_single_weights(path, checkpoint, "an exported generator")
        return _export_sampler(path)
    if os.path.isfile(path) and _looks_like_keras_model(path):
        _check_single_weights(path, checkpoint, "a .keras file")
        return _keras_sampler(path)
    if not os.path.exists(path):
        problem = "does not exist"
    elif not os.path.isdir(path):
        problem = "is a file, not a .keras model"
    elif os.path.isfile(os.path.join(path, "saved_model.pb")):
        problem = (f"is a SavedModel without {runs.EXPORT_METADATA_FILE}, so its latent size and "
                   "classes are unknown")
    else:
        problem = f"holds neither {runs.CONFIG_FILE} nor {runs.EXPORT_METADATA_FILE}"
    raise UserError(f"Cannot generate from model path {path}: it {problem}. {_MODEL_EXPECTED}")


def _check_single_weights(path, checkpoint, what):
    if checkpoint != "latest":
        raise UserError(f"{path} is {what}: it has no {checkpoint} checkpoint. Pass the run "
                        "directory to choose a checkpoint.")


def _looks_like_keras_model(path):
    """True for a file that claims to be a Keras model (by suffix or by its first bytes):
    `model_files` then loads it or refuses it with the reason."""
    from gan_tf import model_files

    if path.lower().endswith((model_files.KERAS_SUFFIX,) + model_files.LEGACY_SUFFIXES):
        return True
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except OSError:
        return False
    return head.startswith((model_files.HDF5_SIGNATURE, model_files.ZIP_SIGNATURE))


def _run_sampler(path, checkpoint="latest"):
    from gan_tf.gan import call_generator

    _, dataset = runs.read_run_config(path)
    gan, config, epochs = runs.load_run(path, checkpoint)
    generator = gan.sampling_generator()
    num_classes = gan.num_classes

    def run_batch(latents, labels):
        return call_generator(generator, latents, labels if num_classes else None)

    description = {"path": path, "kind": "run", "checkpoint": checkpoint, "epochs": int(epochs),
                   "dataset": dataset.get("name"), "architecture": config.architecture,
                   "conditional": bool(num_classes), "ema": bool(gan.uses_ema)}
    return Sampler(run_batch, gan.latent_dim, dataset["image_shape"], num_classes,
                   _class_names(dataset.get("class_names"), num_classes), description,
                   latent_distribution=gan.latent_distribution)


def _export_sampler(path):
    import tensorflow as tf

    from gan_tf import export_lib, model_files

    metadata = export_lib.read_metadata(path)
    if metadata.get("format", "savedmodel") not in export_lib.SAVEDMODEL_FORMATS:
        raise UserError(f"{path} is a {metadata.get('format')} export, for its own runtime; "
                        "gan_tf samples from a training run, its generator/ SavedModel or a "
                        ".keras file. Pass one of those.")
    try:
        latent_dim = int(metadata["latent_dim"])
        image_shape = tuple(int(d) for d in metadata["image_shape"])
        num_classes = int(metadata["num_classes"]) if metadata.get("num_classes") else None
        # Exports written before uniform latents existed record none: theirs are normal.
        latent_distribution = metadata.get("latent_distribution", "normal")
        check_choice("latent_distribution", latent_distribution, LATENT_DISTRIBUTIONS)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path}/{runs.EXPORT_METADATA_FILE} does not describe the generator "
                        f"({type(error).__name__}: {error}). Export it again with "
                        "gan_tf.export_lib.export_generator.") from None
    model_files.check_saved_model(path)  # before TensorFlow runs any of its functions
    try:
        model = export_lib.load_generator(path)
        serve = model.signatures["serve"]
    except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
        raise UserError(f"Cannot load the exported generator {path} "
                        f"({type(error).__name__}: {first_line(error)}). "
                        f"{_MODEL_EXPECTED}") from None

    def run_batch(latents, labels):
        if num_classes:
            return serve(z=latents, label=tf.constant(labels, tf.int32))["images"].numpy()
        return serve(z=latents)["images"].numpy()

    ema_decay = metadata.get("ema_decay")
    description = {"path": path, "kind": "export", "epochs": metadata.get("epochs"),
                   "dataset": metadata.get("dataset"), "conditional": bool(num_classes),
                   "ema": None if "ema_decay" not in metadata else ema_decay is not None}
    return Sampler(run_batch, latent_dim, image_shape, num_classes,
                   _class_names(metadata.get("class_names"), num_classes), description,
                   latent_distribution=latent_distribution)


def _keras_sampler(path):
    """A `Sampler` for a generator saved as a `.keras` file (see `load_sampler`)."""
    from gan_tf import model_files
    from gan_tf.gan import call_generator, latent_dim_of, latent_distribution_of, num_classes_of

    generator = model_files.load_keras_generator(path)
    num_classes = num_classes_of(generator)
    image_shape = _keras_image_shape(path, generator, num_classes)
    latent_dim = latent_dim_of(generator)

    def run_batch(latents, labels):
        return call_generator(generator, latents, labels if num_classes else None)

    description = {"path": path, "kind": "keras", "epochs": None, "dataset": None,
                   "architecture": type(generator).__name__,
                   "conditional": bool(num_classes), "ema": None}
    return Sampler(run_batch, latent_dim, image_shape, num_classes,
                   _class_names(None, num_classes), description,
                   latent_distribution=latent_distribution_of(generator))


def _keras_image_shape(path, model, num_classes):
    """`(H, W, C)` of a `.keras` generator's one output; UserError if it is not a generator."""
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    shape = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else ()
    if len(inputs) != (2 if num_classes else 1) or len(inputs[0].shape) != 2 \
            or len(shape) != 3 or None in shape:
        raise UserError(
            f"{path} is not a generator gan_tf can sample: received a model with "
            f"input shape(s) {[tuple(tensor.shape) for tensor in inputs]} and output shape(s) "
            f"{[tuple(tensor.shape) for tensor in outputs]}. Expected one (batch, latent_dim) "
            "input (or [latents, labels] for a class-conditional gan_tf network) and one "
            "(batch, height, width, channels) output. Save the generator itself, e.g. "
            "gan.generator.save('generator.keras').")
    return shape


def _class_names(names, num_classes):
    """The recorded class names as str, or "0", "1", ... when missing or of another length."""
    if not num_classes:
        return []
    if names is None or len(names) != num_classes:
        return [str(index) for index in range(num_classes)]
    return [str(name) for name in names]
