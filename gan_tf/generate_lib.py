"""Labelled synthetic datasets from a trained generator: PNG folders, NPZ or TFRecord.

`load_sampler(path)` (from `gan_tf.samplers`, also importable here) opens a training run
directory (its newest checkpoint, sampled with the EMA generator when the run keeps one), an
exported generator folder (`generator/` of a run,
loadable without gan_tf) or a generator saved as a `.keras` file (`gan.generator.save(...)`,
opened only through `gan_tf.model_files`: checked, then loaded in Keras safe mode; legacy
`.h5` files are refused). `write_dataset(sampler, output_dir, ...)` draws `num_images` images
from one seed, with class labels spread evenly over the chosen classes, and writes them with a
`manifest.json`:

    png       one folder per class, `output_dir/<folder>/<index>.png`; folders sort in class
              order, so `keras.utils.image_dataset_from_directory(output_dir, shuffle=False)`
              gives every image its class index (an unconditional model: one `images/` folder)
    npz       `output_dir/data.npz`: `images` uint8 (N, H, W, C), `labels` int32 (N,) and
              `class_names` (the last two for a class-conditional model only)
    tfrecord  `output_dir/data.tfrecord` of `tf.train.Example`s: `image` (PNG bytes), `label`
              (int64, conditional only), `height`, `width`, `channels`; read it back with
              `read_tfrecord(path)`

Image `i` of every format is the same image: the `i`-th of `sampler.generate(num_images, seed,
labels=label_plan(num_images, classes))`. The same model, seed and classes give the same
files, from a run directory or from its export.

Folder names (png): the class names themselves when every name is a plain folder name (no
path separator, no leading dot, unique ignoring case) and the names already sort in class
order (e.g. MNIST's "0".."9", or the sorted sub-folders of a `folder:` dataset); otherwise
`<index>_<name>` with the index zero-padded to the width of the largest index and unsafe
characters replaced by "_" ("00_T-shirt_top", ..., "11_eleven"). Every class gets a folder,
empty for a class not drawn, so Keras's label `k` is always the model's class `k`. The
manifest's `class_folders` maps each class name to its folder.

Nothing is written at `output_dir` until the dataset is complete: it is built in a hidden
sibling folder and renamed into place. An existing non-empty `output_dir` is refused.

Example:
```python
from gan_tf import generate_lib

sampler = generate_lib.load_sampler("runs/embedded_mnist-dcgan")
manifest = generate_lib.write_dataset(sampler, "synthetic", num_images=1000, format="png",
                                      labels="3,7")
dataset = keras.utils.image_dataset_from_directory("synthetic", image_size=(28, 28),
                                                    color_mode="grayscale", shuffle=False)
```
TensorFlow is imported on first use, so the CLI can check its flags without it.
"""

import datetime
import json
import os
import re

import numpy as np

from gan_tf import progress
from gan_tf.errors import (UserError, check_choice, check_positive_int, check_seed,
                           first_line, invalid)
from gan_tf.files import staging_directory
# Samplers live in `gan_tf.samplers`; they stay importable from here.
from gan_tf.samplers import Sampler, load_sampler  # noqa: F401
from gan_tf.images import encode_png, to_uint8

FORMATS = ("png", "npz", "tfrecord")
BALANCED = "balanced"
MANIFEST_FILE = "manifest.json"
NPZ_FILE = "data.npz"
TFRECORD_FILE = "data.tfrecord"
UNCONDITIONAL_FOLDER = "images"
_MAX_NAMES_SHOWN = 20
def split_labels(text):
    """The comma-separated items of a `--labels` value (None for None / "balanced").

    A pure syntax check (no model needed): refuses empty items and duplicates.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise invalid("labels", text, "a string: 'balanced' or comma-separated classes")
    if text.strip() == BALANCED:
        return None
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or not all(items):
        raise invalid("labels", text, "'balanced' or comma-separated class indices or names "
                      "with no empty item, e.g. '0,3,7'")
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise invalid("labels", text, f"each class once (repeated: {', '.join(duplicates)})")
    return items


def parse_labels(text, num_classes, class_names=None):
    """The class indices that `--labels=text` asks for, in the order given.

    Args:
        text: None or "balanced" (every class), or comma-separated classes: a class name
            (e.g. "cat,dog") or, if no class has that name, a class index (e.g. "0,3,7").
        num_classes: the model's classes; None for an unconditional model, which takes no
            labels (`text` must be None; the result is None).
        class_names: the model's class names, index `k` naming class `k`.

    Raises:
        UserError: empty items, duplicates, unknown names, indices out of range, or labels for
            an unconditional model; the message names the value and the valid choices.
    """
    if not num_classes:
        if text is not None:
            raise invalid("labels", text, "no --labels: this generator is not "
                          "class-conditional (it draws unlabelled images)")
        return None
    items = split_labels(text)
    if items is None:
        return list(range(num_classes))
    names = [str(name) for name in (class_names or range(num_classes))]
    classes, unknown = [], []
    for item in items:
        if item in names:
            classes.append(names.index(item))
        elif re.fullmatch(r"[+-]?\d+", item) and 0 <= int(item) < num_classes:
            classes.append(int(item))
        else:
            unknown.append(item)
    if unknown:
        shown = ", ".join(repr(name) for name in names[:_MAX_NAMES_SHOWN])
        if len(names) > _MAX_NAMES_SHOWN:
            shown += f", ... ({len(names)} in all)"
        raise invalid("labels", text, f"'balanced' or comma-separated class indices in "
                      f"[0, {num_classes}) or class names from {shown} (not a class: "
                      f"{', '.join(unknown)})")
    repeated = sorted({names[c] for c in classes if classes.count(c) > 1})
    if repeated:
        raise invalid("labels", text, f"each class once (class {', '.join(repeated)} is "
                      "named twice, by index and by name)")
    return classes


def label_plan(num_images, classes):
    """int32 labels for `num_images` images, round robin over `classes`.

    Image `i` has class `classes[i % len(classes)]`: the counts differ by at most one (the
    first classes listed get the extra images) and the order is a pure function of the inputs.
    """
    check_positive_int("num_images", num_images)
    classes = np.asarray(list(classes), dtype=np.int32)
    if classes.ndim != 1 or classes.size == 0:
        raise invalid("classes", classes.tolist(), "at least one class index")
    return classes[np.arange(num_images) % classes.size]


def class_folders(class_names):
    """The png format's folder of each class: names sorted in class order (module docstring)."""
    names = [str(name) for name in class_names]
    if names == sorted(names) and all(map(_plain_folder_name, names)) and len(
            {name.casefold() for name in names}) == len(names):
        return names
    width = len(str(len(names) - 1))
    return [f"{index:0{width}d}_{_safe(name)}" for index, name in enumerate(names)]


def _plain_folder_name(name):
    return (0 < len(name) <= 100 and name == name.strip() and not name.startswith(".")
            and re.fullmatch(r"[^/\\\x00-\x1f:*?\"<>|]+", name) is not None)


def _safe(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60] or "class"


def check_request(num_images, format, batch_size=500, seed=0, labels=None, output_dir=None):
    """Checks what can be checked without the model or TensorFlow; raises UserError.

    `labels` is a `--labels` string (syntax only: `split_labels`); `output_dir`, when given,
    must be a non-empty path.
    """
    check_positive_int("num_images", num_images)
    check_choice("format", format, FORMATS)
    check_positive_int("batch_size", batch_size)
    check_seed(seed)
    split_labels(labels)
    if output_dir is not None:
        try:
            text = os.fspath(output_dir)
        except TypeError:
            text = None
        if not isinstance(text, str) or not text.strip():
            raise invalid("output", output_dir, "the path of a new or empty folder")


def check_output_dir(output_dir):
    """The absolute output path; UserError if it is a file or a non-empty folder."""
    path = os.path.abspath(os.path.expanduser(os.fspath(output_dir)))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UserError(f"Output {path} is a file. Expected a new or empty folder.")
        try:
            entries = os.listdir(path)
        except OSError as error:
            raise UserError(f"Cannot read output folder {path}: "
                            f"{error.strerror or error}.") from None
        if entries:
            raise UserError(f"Output {path} is not empty ({len(entries)} entries); nothing was "
                            "written. Pass a new or empty folder: gan_tf never overwrites a "
                            "dataset.")
    return path


@progress.showing
def write_dataset(sampler, output_dir, num_images, format="png", seed=0, labels=None,
                  batch_size=500):
    """Writes `num_images` generated images as a labelled dataset; returns the manifest.

    Args:
        sampler: a `Sampler` (`load_sampler`).
        output_dir: a new or empty folder; created, complete, by one rename at the end.
        num_images: how many images.
        format: "png", "npz" or "tfrecord" (module docstring).
        seed: seed of the latents (`gan_tf.gan.sample_latents`). Defaults to 0.
        labels: conditional models: None or "balanced" (every class), a `--labels` string
            ("0,3,7", "cat,dog"; `parse_labels`) or a sequence of class indices; the images
            are spread evenly over these classes (`label_plan`). Must be None when
            unconditional.
        batch_size: images per generator call. Defaults to 500.

    Returns:
        The manifest dict, also written to `output_dir/manifest.json`.

    Raises:
        UserError: an invalid argument, a non-empty or unwritable `output_dir` (nothing is
            written in either case).
    """
    check_request(num_images, format, batch_size, seed, labels if isinstance(labels, str)
                  else None, output_dir)
    classes = _resolve_classes(sampler, labels)
    path = check_output_dir(output_dir)
    if labels is not None and classes is not None and num_images < len(classes):
        raise invalid("num_images", num_images, f"at least {len(classes)}, one image of each "
                      f"class asked for ({len(classes)} classes)")
    _check_fits(sampler, num_images, format, path)
    plan = None if classes is None else label_plan(num_images, classes)
    try:
        with staging_directory(path, os.path.basename(path)) as staging:
            writer = _WRITERS[format](staging, sampler, num_images)
            for images, batch_labels in sampler.batches(num_images, seed, plan, batch_size):
                writer.add(to_uint8(images), batch_labels)
            files = writer.close()
            manifest = _manifest(sampler, path, num_images, format, seed, classes, plan, files)
            if format == "png" and classes is not None:
                manifest["class_folders"] = dict(zip(sampler.class_names, writer.folders))
            with open(os.path.join(staging, MANIFEST_FILE), "w", encoding="utf-8") as stream:
                json.dump(manifest, stream, indent=2)
                stream.write("\n")
            try:
                os.rename(staging, path)  # replaces an empty folder; refuses a non-empty one
            except OSError as error:
                raise UserError(f"Cannot move the finished dataset to {path} "
                                f"({error.strerror or error}); was something written there "
                                "meanwhile? Nothing there was changed. Pass a new or empty "
                                "folder.") from None
    except OSError as error:
        raise UserError(f"Cannot write the dataset next to {path}: "
                        f"{error.strerror or error}. Nothing was written there; pass an "
                        "output folder you can write to.") from None
    return manifest


def _check_fits(sampler, num_images, format, path):
    """Refuses `num_images` whose latents (and labels; the npz format: pixels) would not fit
    in the memory available now, or whose npz would not fit on the disk, before any work.

    The latents of all images are drawn at once from the seed (`Sampler.batches`), so the
    images do not depend on the batch size; that is what takes the memory.
    """
    from gan_tf import hardware

    pixels = int(np.prod(sampler.image_shape))
    per_image = 4 * sampler.latent_dim + 4 + (pixels if format == "npz" else 0)
    needed = num_images * per_image
    available = hardware.available_memory()
    if available is not None and needed > available:
        most = max(1, available // (2 * per_image))
        what = "latents, labels and pixels" if format == "npz" else "latents and labels"
        raise invalid("num_images", num_images,
                      f"a number whose {what} fit in memory: {num_images:,} images need "
                      f"{_gib(needed)} and {_gib(available)} is available now. Draw at most "
                      f"about {most:,} per command (several commands with different --seed "
                      "give different images); nothing was written")
    if format == "npz":
        import shutil

        parent = os.path.dirname(path)
        while not os.path.isdir(parent) and os.path.dirname(parent) != parent:
            parent = os.path.dirname(parent)
        free = shutil.disk_usage(parent).free
        if num_images * pixels > free:
            raise invalid("num_images", num_images,
                          f"a number whose {NPZ_FILE} fits on the disk: {num_images:,} images "
                          f"take {_gib(num_images * pixels)} and {_gib(free)} is free at "
                          f"{parent}. Free space, or draw fewer; nothing was written")


def _gib(nbytes):
    return f"{nbytes / 2 ** 30:,.1f} GiB"


def _resolve_classes(sampler, labels):
    """The class indices to draw from (None for an unconditional sampler)."""
    if labels is None or isinstance(labels, str):
        return parse_labels(labels, sampler.num_classes, sampler.class_names)
    if not sampler.num_classes:
        raise invalid("labels", labels, "None: this generator is not class-conditional")
    values = list(labels)
    if (not values or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                              and 0 <= v < sampler.num_classes for v in values)
            or len(set(values)) != len(values)):
        raise invalid("labels", labels, f"distinct class indices in [0, {sampler.num_classes})")
    return [int(v) for v in values]


def _manifest(sampler, path, num_images, format, seed, classes, plan, files):
    from gan_tf import __version__

    counts = None
    if plan is not None:
        found = np.bincount(plan, minlength=sampler.num_classes)
        counts = {name: int(found[index]) for index, name in enumerate(sampler.class_names)}
    return {
        "format": format,
        "num_images": int(num_images),
        "seed": int(seed),
        "latent_distribution": sampler.latent_distribution,  # what the seed's latents are
        "model": sampler.description,
        "image_shape": list(sampler.image_shape),
        "num_classes": sampler.num_classes,
        "class_names": sampler.class_names if sampler.num_classes else None,
        "classes": classes,
        "counts": counts,
        "labels": None if plan is None else "image i has class classes[i % len(classes)]",
        "files": files,
        "output_dir": path,
        "gan_tf_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


class _PngWriter:
    def __init__(self, directory, sampler, num_images):
        self.directory = directory
        self.width = max(6, len(str(num_images - 1)))
        self.folders = (class_folders(sampler.class_names) if sampler.num_classes
                        else [UNCONDITIONAL_FOLDER])
        for folder in self.folders:
            os.mkdir(os.path.join(directory, folder))
        self.index = 0

    def add(self, pixels, labels):
        for offset, image in enumerate(pixels):
            folder = self.folders[0 if labels is None else int(labels[offset])]
            name = f"{self.index:0{self.width}d}.png"
            with open(os.path.join(self.directory, folder, name), "wb") as stream:
                stream.write(encode_png(image))
            self.index += 1

    def close(self):
        return list(self.folders)


class _NpzWriter:
    def __init__(self, directory, sampler, num_images):
        self.path = os.path.join(directory, NPZ_FILE)
        self.sampler = sampler
        self.images = np.empty((num_images,) + sampler.image_shape, np.uint8)
        self.labels = np.empty((num_images,), np.int32) if sampler.num_classes else None
        self.index = 0

    def add(self, pixels, labels):
        end = self.index + len(pixels)
        self.images[self.index:end] = pixels
        if self.labels is not None:
            self.labels[self.index:end] = labels
        self.index = end

    def close(self):
        arrays = {"images": self.images}
        if self.labels is not None:
            arrays["labels"] = self.labels
            arrays["class_names"] = np.array(self.sampler.class_names, dtype=str)
        with open(self.path, "wb") as stream:
            np.savez(stream, **arrays)
        return [NPZ_FILE]


class _TfrecordWriter:
    def __init__(self, directory, sampler, num_images):
        import tensorflow as tf

        self.tf = tf
        self.writer = tf.io.TFRecordWriter(os.path.join(directory, TFRECORD_FILE))

    def add(self, pixels, labels):
        tf = self.tf
        for offset, image in enumerate(pixels):
            height, width, channels = image.shape
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[encode_png(image)])),
                "height": tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
                "width": tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
                "channels": tf.train.Feature(int64_list=tf.train.Int64List(value=[channels])),
            }
            if labels is not None:
                feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[int(labels[offset])]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            self.writer.write(example.SerializeToString())

    def close(self):
        self.writer.close()
        return [TFRECORD_FILE]


_WRITERS = {"png": _PngWriter, "npz": _NpzWriter, "tfrecord": _TfrecordWriter}


def read_tfrecord(path):
    """A `tf.data.Dataset` of a tfrecord dataset: `(image, label)`, or `image` if unlabelled.

    Args:
        path: the `data.tfrecord` file, or the dataset folder holding it.

    Returns:
        A dataset of uint8 `(H, W, C)` images (static shape) and int32 scalar labels, in the
        order written (unbatched; add `.batch(...)`).

    Raises:
        UserError: no such file, an empty file, or records that are not gan_tf examples.
    """
    import tensorflow as tf

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, TFRECORD_FILE)
    if not os.path.isfile(path):
        raise UserError(f"TFRecord file {path} not found. Expected the {TFRECORD_FILE} of a "
                        "dataset written by gan_tf.generate --format=tfrecord, or its folder.")
    try:
        first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        if first is None:
            raise UserError(f"TFRecord file {path} holds no records.")
        features = tf.train.Example.FromString(first.numpy()).features.feature
        labelled = "label" in features
        for key in ("image", "height", "width", "channels"):
            if key not in features:
                raise KeyError(key)
        shape = [int(features[key].int64_list.value[0])
                 for key in ("height", "width", "channels")]
    except (tf.errors.OpError, KeyError, IndexError, ValueError) as error:
        raise UserError(f"{path} is not a gan_tf TFRecord dataset ({type(error).__name__}: "
                        f"{first_line(error, 200)}). Expected tf.train.Examples with "
                        "image, height, width and channels.") from None
    spec = {"image": tf.io.FixedLenFeature([], tf.string)}
    if labelled:
        spec["label"] = tf.io.FixedLenFeature([], tf.int64)

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        image = tf.ensure_shape(tf.io.decode_png(example["image"], channels=shape[2]), shape)
        if labelled:
            return image, tf.cast(example["label"], tf.int32)
        return image

    return tf.data.TFRecordDataset(path).map(parse)
