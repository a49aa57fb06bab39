"""Datasets: the embedded digits, any tensorflow-datasets image dataset, or an image folder.

Every source is loaded once into memory as uint8 pixels `(N, H, W, C)` (plus integer labels
where the source has them) and checked before anything is written. `make_dataset` then serves
float32 batches in [-1, 1] whose order is a pure function of (seed, epoch), so a resumed run
sees exactly the batches an uninterrupted run would.
"""

import dataclasses
import importlib.resources
import os
import socket
from typing import Optional, Sequence

import numpy as np

from gan_tf.config import EMBEDDED_DATASET, FOLDER_PREFIX
from gan_tf.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Hosts tensorflow-datasets downloads from; probed (3 s) before a download is attempted.
_DOWNLOAD_PROBE = ("storage.googleapis.com", 443)


@dataclasses.dataclass
class ImageData:
    """A whole dataset in memory."""

    name: str
    images: np.ndarray  # uint8, (N, H, W, C)
    labels: Optional[np.ndarray] = None  # int32, (N,), or None for unlabelled data
    class_names: Optional[Sequence[str]] = None

    @property
    def image_shape(self):
        return tuple(int(d) for d in self.images.shape[1:])

    @property
    def num_classes(self):
        return None if self.class_names is None else len(self.class_names)

    def __len__(self):
        return int(self.images.shape[0])


def load_images(dataset=EMBEDDED_DATASET, data_dir=None, download=True, image_size=None,
                max_examples=None, seed=0):
    """Loads `dataset` into memory; raises `UserError` for anything unusable.

    Args:
        dataset: `"embedded_mnist"` (5,000 real MNIST digits shipped with gan_tf), the name of
            a tensorflow-datasets image dataset (e.g. `"mnist"`, `"cifar10"`), or
            `"folder:PATH"` (images in PATH; one sub-folder per class gives labels).
        data_dir: tensorflow-datasets data directory. Defaults to tfds's own.
        download: whether tensorflow-datasets may download a dataset that is not prepared.
        image_size: resize every image to `image_size x image_size` (antialiased).
        max_examples: keep a subset of this many images, class-balanced when labelled
            (see `subset`).
        seed: seed of the subset.
    """
    if dataset == EMBEDDED_DATASET:
        data = load_embedded_mnist()
    elif dataset.startswith(FOLDER_PREFIX):
        data = load_folder(dataset[len(FOLDER_PREFIX):], image_size=image_size)
    else:
        data = load_tfds(dataset, data_dir=data_dir, download=download, image_size=image_size)
    check_images(data.images, data.name)
    if max_examples is not None and max_examples < len(data):
        data = subset(data, max_examples, seed)
    if image_size is not None and data.image_shape[:2] != (image_size, image_size):
        data = dataclasses.replace(data, images=resize_pixels(data.images, image_size).numpy())
    return data


def subset(data, count, seed=0):
    """`count` images of `data`, as evenly spread over its classes as possible.

    Classes are filled round-robin from a seeded permutation of each class, so 500 embedded
    digits are 50 of each; unlabelled data gives a seeded random subset.
    """
    chosen = subset_indices(data.labels, len(data), count, seed)
    return dataclasses.replace(
        data, images=data.images[chosen],
        labels=None if data.labels is None else data.labels[chosen])


def subset_indices(labels, size, count, seed=0):
    """Sorted indices of the class-balanced choice of `subset` (labels may be None)."""
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.permutation(size)[:count])
    pools = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in np.unique(labels)]
    chosen = []
    while len(chosen) < min(count, size):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(pool.pop())
    return np.sort(np.array(chosen, np.int64))


def load_embedded_mnist():
    """The 5,000 real MNIST digits (500 per class) shipped as package data."""
    source = importlib.resources.files("gan_tf") / "assets" / "mnist_5k.npz"
    with source.open("rb") as stream, np.load(stream) as arrays:
        images, labels = arrays["images"][..., None], arrays["labels"].astype(np.int32)
    return ImageData(EMBEDDED_DATASET, images, labels, [str(d) for d in range(10)])


def load_tfds(name, data_dir=None, download=True, image_size=None, split="train"):
    """Loads the `split` of a tensorflow-datasets image dataset into memory."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    expected = (f"Expected {EMBEDDED_DATASET!r} (the default, shipped with gan_tf), the name "
                "of a tensorflow-datasets image dataset such as 'mnist', 'fashion_mnist' or "
                "'cifar10', or 'folder:PATH'.")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"Unknown dataset: received --dataset={name!r}. {expected}") from None
    except Exception as error:  # noqa: BLE001 - e.g. a community prefix needing other packages
        raise UserError(f"Cannot open dataset {name!r} with tensorflow-datasets "
                        f"({type(error).__name__}: {error}). {expected}") from None
    if not builder.is_prepared():
        where = data_dir or "the default tensorflow-datasets folder (~/tensorflow_datasets)"
        fix = (f"Prepare it with network access (tfds build {name} --data_dir=DIR) and pass "
               f"--data_dir=DIR, or train on the embedded digits with "
               f"--dataset={EMBEDDED_DATASET}.")
        if not download:
            raise UserError(f"Dataset {name!r} is not prepared in {where} and downloads are "
                            f"off (--nodownload). {fix}")
        if not network_reachable():
            raise UserError(f"Dataset {name!r} is not prepared in {where} and its download "
                            f"server cannot be reached (no network). {fix}")
        try:
            builder.download_and_prepare()
        except Exception as error:  # noqa: BLE001 - manual downloads, network drops, ...
            raise UserError(f"tensorflow-datasets could not prepare {name!r} "
                            f"({type(error).__name__}: {error}). {fix}") from None
    image_key, label_key = _image_and_label_keys(builder.info, name)
    if builder.info.splits and split not in builder.info.splits:
        raise UserError(f"Dataset {name!r} has no {split!r} split; it has "
                        f"{sorted(builder.info.splits)}.")
    image_shape = builder.info.features[image_key].shape
    if None in image_shape[:2] and image_size is None:
        raise UserError(f"Dataset {name!r} has images of varying size {image_shape}. "
                        "Pass --image_size=N to resize them to N x N.")

    def extract(example):
        image = example[image_key]
        if image_size is not None:
            image = resize_pixels(image, image_size)
        label = example[label_key] if label_key else tf.constant(0, tf.int64)
        return image, tf.cast(label, tf.int32)

    dataset = builder.as_dataset(split=split, shuffle_files=False).map(extract).batch(4096)
    parts = list(tfds.as_numpy(dataset))
    if not parts:
        raise UserError(f"Dataset {name!r} split {split!r} is empty.")
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]) if label_key else None
    class_names = builder.info.features[label_key].names if label_key else None
    return ImageData(name, images, labels, class_names)


def load_folder(path, image_size=None):
    """Loads every image under `path`; labels come from sub-folder names when all have one.

    Images are turned upright (EXIF orientation), transparent pixels are composited onto
    black, 16-bit images are scaled to 8 bits, and all images become grayscale if all of
    them are, else RGB. Hidden files (such as macOS `._name.png`) are skipped.
    """
    from PIL import Image

    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(root):
        raise UserError(f"Image folder not found: received --dataset=folder:{path}. Expected "
                        "an existing folder of image files (PNG, JPEG, BMP, GIF, WebP).")
    files = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
    )
    if not files:
        raise UserError(f"The image folder {root} holds no image files. Expected files ending "
                        f"in {', '.join(IMAGE_EXTENSIONS)}.")
    modes = []
    for file in files:  # headers only: decide grayscale or RGB before decoding anything
        try:
            with Image.open(file) as image:
                modes.append(image.mode)
        except OSError as error:
            raise UserError(f"Cannot read image file {file}: {error}. Remove or replace it.")
    gray = all(mode in _GRAY_MODES for mode in modes)
    arrays = [_read_image(file, gray, image_size) for file in files]
    sizes = {array.shape[:2] for array in arrays}
    if len(sizes) > 1:
        examples = ", ".join(f"{os.path.relpath(f, root)} {a.shape[1]}x{a.shape[0]}"
                             for f, a in list(zip(files, arrays))[:3])
        raise UserError(f"The images in {root} have {len(sizes)} different sizes ({examples}, "
                        "...). Pass --image_size=N to resize them all to N x N.")
    images = np.stack(arrays)
    if images.ndim == 3:
        images = images[..., None]
    relative = [os.path.relpath(file, root).split(os.sep) for file in files]
    labels = class_names = None
    if all(len(parts) == 2 for parts in relative):
        class_names = sorted({parts[0] for parts in relative})
        labels = np.array([class_names.index(parts[0]) for parts in relative], np.int32)
    return ImageData(FOLDER_PREFIX + path, images, labels, class_names)


_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _read_image(file, gray, image_size):
    """One image file -> uint8 array (H, W) if `gray` else (H, W, 3)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(file) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except OSError as error:
        raise UserError(f"Cannot read image file {file}: {error}. Remove or replace it.")
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0  # 16-bit -> 8-bit
        image = Image.fromarray(np.clip(np.round(values / scale), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if gray else "RGB")
    if image_size is not None:
        image = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def check_images(images, name="dataset"):
    """Raises `UserError` unless `images` is non-empty uint8 of shape (N, H, W, 1|3)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or min(images.shape[1:3]) < 1:
        raise UserError(f"{name}: images have shape {images.shape}. Expected (N, height, width, "
                        "channels) with 1 (grayscale) or 3 (RGB) channels.")
    if images.dtype != np.uint8:
        raise UserError(f"{name}: images have dtype {images.dtype}. Expected uint8 pixels in "
                        "[0, 255].")
    if images.shape[0] == 0:
        raise UserError(f"{name}: the dataset is empty.")


def check_batch_size(data, batch_size):
    if len(data) < batch_size:
        raise UserError(
            f"{data.name}: the dataset has {len(data)} images, fewer than one batch "
            f"(--batch_size={batch_size}). Use --batch_size={max(1, len(data))} or fewer."
        )


def to_float(pixels):
    """uint8 pixels in [0, 255] -> float32 in [-1, 1] (the inverse is `images.to_uint8`)."""
    import tensorflow as tf

    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def make_dataset(data, batch_size, seed, start_epoch=0, end_epoch=1):
    """Batches for epochs `[start_epoch, end_epoch)` of `data`, as one `tf.data.Dataset`.

    Each epoch is a permutation of the images drawn from (seed, epoch) alone, cut into
    `len(data) // batch_size` full batches (the remainder is left out for that epoch only).
    Elements are float32 images in [-1, 1], or `(images, labels)` for labelled data.

    Returns:
        `(dataset, steps_per_epoch)`.
    """
    import tensorflow as tf

    check_batch_size(data, batch_size)
    count = len(data)
    steps_per_epoch = count // batch_size
    images = tf.constant(data.images)
    labels = None if data.labels is None else tf.constant(data.labels, tf.int32)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order[: steps_per_epoch * batch_size]).batch(
            batch_size, drop_remainder=True
        )

    def gather(indices):
        batch = to_float(tf.gather(images, indices))
        return batch if labels is None else (batch, tf.gather(labels, indices))

    dataset = tf.data.Dataset.range(start_epoch, end_epoch).flat_map(epoch_batches)
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE), steps_per_epoch


def network_reachable(timeout=3.0):
    """True if tensorflow-datasets' download server answers within `timeout` seconds."""
    try:
        with socket.create_connection(_DOWNLOAD_PROBE, timeout=timeout):
            return True
    except OSError:
        return False


def resize_pixels(pixels, image_size):
    """uint8 pixels (..., H, W, C) -> uint8 (..., image_size, image_size, C), antialiased."""
    import tensorflow as tf

    resized = tf.image.resize(pixels, (image_size, image_size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def _image_and_label_keys(info, name):
    import tensorflow_datasets as tfds

    features = info.features
    if info.supervised_keys and len(info.supervised_keys) == 2:
        image_key, label_key = info.supervised_keys
        if isinstance(features[image_key], tfds.features.Image):
            if not isinstance(features[label_key], tfds.features.ClassLabel):
                label_key = None
            return image_key, label_key
    image_keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if not image_keys:
        raise UserError(f"Dataset {name!r} has no image feature (features: {list(features)}). "
                        "Expected an image dataset such as 'mnist' or 'cifar10'.")
    label_keys = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    return image_keys[0], (label_keys[0] if label_keys else None)
