"""Datasets: the embedded digits, any tensorflow-datasets image dataset, an image folder, or
an array file.

Every source is loaded once into memory as uint8 pixels `(N, H, W, C)` (plus integer labels
where the source has them) and checked before anything is written: an unusable source (a
wrong shape, float pixels in the wrong range, NaN, unreadable files, no images) raises one
one-line `UserError` that names what was received, what was expected and the fix; nothing
is skipped silently. `make_dataset` then serves float32 batches in [-1, 1] whose order is a
pure function of (seed, epoch), so a resumed run sees exactly the batches an uninterrupted
run would.
"""

import dataclasses
import importlib.resources
import os
import socket
import zipfile
from typing import Optional, Sequence

import numpy as np

from gan_tf import hardware, image_files
from gan_tf.errors import UserError, check_choice, first_line, invalid
from gan_tf.image_files import IMAGE_EXTENSIONS, resize_pixels  # noqa: F401 - public here too
from gan_tf.messages import get_logger
from gan_tf.names import (ARRAY_EXTENSIONS, ARRAY_PREFIX, DATA_CACHES, EMBEDDED_DATASET,
                          FOLDER_PREFIX)

ARRAY_KEYS = ("images", "labels", "class_names")  # of an array:PATH .npz; images required
# Float images within this much of [-1, 1] (half a pixel step) are accepted and clipped.
_RANGE_TOLERANCE = 1 / 255
# Hosts tensorflow-datasets downloads from; probed (3 s) before a download is attempted.
_DOWNLOAD_PROBE = ("storage.googleapis.com", 443)

_logger = get_logger(__name__)


@dataclasses.dataclass
class ImageData:
    """A dataset: its pixels (in memory, or on disk as a `FileImages`), labels and classes."""

    name: str
    images: np.ndarray  # uint8, (N, H, W, C); or a FileImages (streamed; see is_streamed)
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
                max_examples=None, seed=0, cache="auto"):
    """Loads `dataset`; raises `UserError` for anything unusable.

    Args:
        dataset: `"embedded_mnist"` (5,000 real MNIST digits shipped with gan_tf), the name of
            a tensorflow-datasets image dataset (e.g. `"mnist"`, `"cifar10"`), or
            `"folder:PATH"` (images in PATH; one sub-folder per class gives labels), or
            `"array:PATH"` (a `.npz` with `images` and optional `labels` and `class_names`,
            or a `.npy` of images; see `load_array`).
        data_dir: tensorflow-datasets data directory. Defaults to tfds's own.
        download: whether tensorflow-datasets may download a dataset that is not prepared.
        image_size: resize every image to `image_size x image_size`, or to `"WIDTHxHEIGHT"`
            (antialiased; see `image_files.image_height_width`).
        max_examples: keep a subset of this many images, class-balanced when labelled
            (see `subset`).
        seed: seed of the subset.
        cache: where an image folder's decoded pixels live: `"memory"`, `"stream"` (decoded
            batch by batch from disk while training; `images` is then a `FileImages`) or
            `"auto"` (memory when they fit; see `load_folder`). Other sources are read into
            memory.
    """
    check_choice("data_cache", cache, DATA_CACHES)
    if dataset == EMBEDDED_DATASET:
        data = load_embedded_mnist()
    elif dataset.startswith(FOLDER_PREFIX):
        data = load_folder(dataset[len(FOLDER_PREFIX):], image_size=image_size, cache=cache)
    elif dataset.startswith(ARRAY_PREFIX):
        data = load_array(dataset[len(ARRAY_PREFIX):])
    else:
        data = load_tfds(dataset, data_dir=data_dir, download=download, image_size=image_size,
                         cache=cache)
    check_images(data.images, data.name)
    if max_examples is not None and max_examples < len(data):
        data = subset(data, max_examples, seed)
    if is_streamed(data):
        return data  # already at image_size: read_image resizes each file
    if image_size is not None and data.image_shape[:2] != image_files.image_height_width(
            image_size):
        data = dataclasses.replace(data, images=resize_pixels(data.images, image_size).numpy())
    return data


def subset(data, count, seed=0):
    """`count` images of `data`, as evenly spread over its classes as possible.

    Classes are filled round-robin from a seeded permutation of each class, so 500 embedded
    digits are 50 of each; unlabelled data gives a seeded random subset.
    """
    return take(data, subset_indices(data.labels, len(data), count, seed))


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


def stratified_split(labels, size, fraction, rng_seed, at_least=0):
    """`(rest, chosen)`: sorted indices, `fraction` of each class chosen (seeded).

    Each class gives `max(at_least, round(fraction * its size))` images from a permutation
    drawn with `numpy.random.default_rng(rng_seed)`, class by class in label order;
    unlabelled data (`labels` None) gives that share of all `size` images.
    """
    rng = np.random.default_rng(rng_seed)

    def share(count):
        return max(at_least, int(round(count * fraction)))

    if labels is None:
        order = rng.permutation(size)
        cut = share(size)
        return np.sort(order[cut:]), np.sort(order[:cut])
    chosen = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen.extend(members[:share(len(members))])
    chosen = np.sort(np.array(chosen, np.int64))
    return np.setdiff1d(np.arange(size), chosen), chosen


def holdout_indices(labels, size, fraction, seed=0):
    """`(pool, held_out)`: sorted indices; `fraction` of each class held out, seeded.

    Its own random stream (`[seed, 7919]`), so the held-out test split does not depend on
    `--max_examples` and is the same on every resume.
    """
    return stratified_split(labels, size, fraction, [seed, 7919])


def split_indices(labels, size, holdout=0.0, max_examples=None, seed=0):
    """`(trained, held_out)`: the images a run trains on and its held-out test split.

    `holdout` (a fraction) is reserved first (`holdout_indices`); the run trains on the
    rest, or on a class-balanced `max_examples` of it (`subset_indices`). With no holdout
    this is `subset_indices(labels, size, max_examples, seed)`.
    """
    pool = np.arange(size)
    held_out = np.array([], np.int64)
    if holdout:
        pool, held_out = holdout_indices(labels, size, holdout, seed)
    if max_examples is not None and max_examples < len(pool):
        chosen = subset_indices(None if labels is None else labels[pool], len(pool),
                                max_examples, seed)
        pool = pool[chosen]
    return pool, held_out


def take(data, indices):
    """The images (and labels) of `data` at `indices` (a streamed dataset stays streamed)."""
    images = data.images
    return dataclasses.replace(
        data, images=images.subset(indices) if is_streamed(data) else images[indices],
        labels=None if data.labels is None else data.labels[indices])


def is_streamed(data):
    """Whether `data`'s pixels stay on disk (a `LazyImages`), decoded when used."""
    return isinstance(data.images, image_files.LazyImages)


def load_embedded_mnist():
    """The 5,000 real MNIST digits (500 per class) shipped as package data."""
    source = importlib.resources.files("gan_tf") / "assets" / "mnist_5k.npz"
    with source.open("rb") as stream, np.load(stream) as arrays:
        images, labels = arrays["images"][..., None], arrays["labels"].astype(np.int32)
    return ImageData(EMBEDDED_DATASET, images, labels, [str(d) for d in range(10)])


def load_tfds(name, data_dir=None, download=True, image_size=None, split="train",
              cache="auto"):
    """Loads the `split` of a tensorflow-datasets image dataset.

    Into memory when its decoded pixels fit (`cache="auto"`, see `load_folder`) or when
    `cache="memory"`; else streamed (`images` is a `TfdsImages`), which needs the split
    prepared in a random-access format (array_record or parquet).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    expected = (f"Expected {EMBEDDED_DATASET!r} (the default, shipped with gan_tf), the name "
                "of a tensorflow-datasets image dataset such as 'mnist', 'fashion_mnist' or "
                "'cifar10', 'folder:PATH' (an image folder) or 'array:PATH' (a .npz or .npy "
                "file).")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"Unknown dataset: received --dataset={name!r}. {expected}") from None
    except Exception as error:  # noqa: BLE001 - e.g. a community prefix needing other packages
        raise UserError(f"Cannot open dataset {name!r} with tensorflow-datasets "
                        f"({type(error).__name__}: {error}). {expected}") from None
    image_key, label_key = _image_and_label_keys(builder.info, name)
    image_feature = builder.info.features[image_key]
    pixel_type = np.dtype(getattr(image_feature, "np_dtype", None) or image_feature.dtype)
    if pixel_type != np.uint8:
        # float32 (depth maps and the like: any range, NaN possible) or uint16 images would
        # be cut to 8 bits blindly; refused before a single example is read.
        raise UserError(
            f"Dataset {name!r} stores its images ({image_key!r}) as {pixel_type.name}, not "
            "uint8 pixels; gan_tf trains on uint8 image datasets. Convert them to uint8 "
            "pixels in [0, 255] or floats in [-1, 1] and save them as an array file "
            "(--dataset=array:PATH.npz; see docs/training.md, 'Options').")
    image_shape = image_feature.shape
    if None in image_shape[:2] and image_size is None:
        raise UserError(f"Dataset {name!r} has images of varying size {image_shape}. "
                        "Pass --image_size=N to resize them to N x N.")
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
    if builder.info.splits and split not in builder.info.splits:
        raise UserError(f"Dataset {name!r} has no {split!r} split; it has "
                        f"{sorted(builder.info.splits)}.")

    count = builder.info.splits[split].num_examples if builder.info.splits else 0
    shape = (image_files.image_height_width(image_size) + (image_shape[-1],)
             if image_size is not None else tuple(image_shape))
    if count and None not in shape:
        nbytes = count * int(np.prod(shape))
        streamed = _streamed_tfds(builder, name, split, image_key, label_key, shape,
                                  image_size)
        if streamed is None and streams(cache, nbytes):
            budget = memory_budget()
            why = ("--data_cache=stream asks to stream it" if cache == "stream" else
                   f"it is {nbytes / 2**30:.1f} GiB of decoded pixels, more than gan_tf keeps "
                   f"in memory ({budget / 2**30:.1f} GiB, a quarter of the memory available)")
            raise UserError(
                f"Dataset {name!r} split {split!r} cannot be streamed: {why}, and it is "
                "prepared as "
                f"{builder.info.file_format.value} files, which cannot be read in random "
                f"order. Prepare it for streaming with `tfds build {name} --data_dir=DIR "
                "--file_format=array_record` and pass --data_dir=DIR, or pass "
                "--data_cache=memory to read it into memory.")
        if streamed is not None:  # random access: read through its data source either way
            if streams(cache, nbytes):
                return streamed
            return dataclasses.replace(streamed, images=np.asarray(streamed.images))

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


def _streamed_tfds(builder, name, split, image_key, label_key, shape, image_size):
    """The split as `ImageData` of `TfdsImages` (pixels on disk), or None when its files
    cannot be read in random order (tfrecord)."""
    import tensorflow_datasets as tfds

    try:
        source = builder.as_data_source(split, decoders={image_key: tfds.decode.SkipDecoding()})
    except NotImplementedError:
        return None
    labels = class_names = None
    if label_key:
        labels = np.empty(len(source), np.int32)
        for start in range(0, len(source), 4096):  # reads the records, decodes no image
            rows = source.__getitems__(range(start, min(start + 4096, len(source))))
            labels[start:start + len(rows)] = [row[label_key] for row in rows]
        class_names = builder.info.features[label_key].names
    images = image_files.TfdsImages(builder, split, image_key, np.arange(len(source)), shape,
                                    image_size)
    return ImageData(name, images, labels, class_names)


def load_folder(path, image_size=None, cache="auto"):
    """Reads the image folder `path`; labels come from sub-folder names when all have one.

    Images are turned upright (EXIF orientation), transparent pixels are composited onto
    black, 16-bit images are scaled to 8 bits, and all images become grayscale if all of
    them are, else RGB (`image_files.read_image`). Hidden files (such as macOS
    `._name.png`) and files without an image extension are skipped.

    Every file's header is read first (in parallel): a file that cannot be opened (corrupt,
    empty, not an image) is never skipped; the whole folder is refused, naming the first
    `image_files.MAX_NAMED` bad files and their count, so a dataset never shrinks without
    the user knowing. Then the pixels are decoded into memory (`cache="memory"`), or left on disk and
    decoded batch by batch while training (`"stream"`: `images` is a `FileImages`), or
    whichever fits (`"auto"`: memory when the decoded pixels take at most a quarter of the
    memory available now). A file whose header is fine but whose data is broken is refused
    with its name: at load time in memory, and when its batch comes while streaming.
    """
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(root):
        raise UserError(f"Image folder not found: received --dataset=folder:{path}. Expected "
                        "an existing folder of image files (PNG, JPEG, BMP, GIF, WebP).")
    files = image_files.list_image_files(root)
    if not files:
        raise UserError(f"The image folder {root} holds no image files. Expected files ending "
                        f"in {', '.join(IMAGE_EXTENSIONS)}.")
    skipped = image_files.skipped_files(root)
    if skipped:
        _logger.info(f"Skipped {sum(skipped.values())} file(s) in {root} that are not images "
                     f"({', '.join(f'{n} {e}' for e, n in sorted(skipped.items()))}); "
                     f"images end in {', '.join(IMAGE_EXTENSIONS)}.")
    headers, bad = image_files.read_headers(files)
    if bad:
        raise image_files.unreadable_files_error(bad, len(files), root)
    gray = image_files.is_gray(mode for mode, _ in headers.values())
    if image_size is None:
        sizes = {size for _, size in headers.values()}
        if len(sizes) > 1:
            examples = ", ".join(f"{os.path.relpath(f, root)} {headers[f][1][0]}x"
                                 f"{headers[f][1][1]}" for f in files[:3])
            raise UserError(f"The images in {root} have {len(sizes)} different sizes "
                            f"({examples}, ...). Pass --image_size=N to resize them all to "
                            "N x N.")
        (width, height), = sizes
    else:
        height, width = image_files.image_height_width(image_size)
    images = image_files.FileImages(files, (height, width, 1 if gray else 3),
                                    image_size and (height, width), root)
    relative = [os.path.relpath(file, root).split(os.sep) for file in files]
    labels = class_names = None
    if all(len(parts) == 2 for parts in relative):
        class_names = sorted({parts[0] for parts in relative})
        labels = np.array([class_names.index(parts[0]) for parts in relative], np.int32)
    elif any(len(parts) == 2 for parts in relative):
        loose = sum(len(parts) == 1 for parts in relative)
        nested = sum(len(parts) > 2 for parts in relative)
        _logger.warning(
            f"{root} mixes class folders with {loose} image(s) directly in it and {nested} in "
            "folders inside class folders, so it has no labels: it trains unconditionally. "
            "For labels, put every image in a folder of its class, directly under the "
            "dataset folder.")
    if not streams(cache, images.nbytes):
        images = _decode_all(images)
    return ImageData(FOLDER_PREFIX + path, images, labels, class_names)


def streams(cache, nbytes):
    """Whether a dataset of `nbytes` decoded pixels is streamed under `--data_cache=cache`."""
    check_choice("data_cache", cache, DATA_CACHES)
    if cache != "auto":
        return cache == "stream"
    return nbytes > memory_budget()


def memory_budget():
    """Bytes of decoded pixels kept in memory by `--data_cache=auto`: a quarter of the memory
    available now (training copies the pixels once more into TensorFlow, and needs room for
    the networks, batches and the scores' real images)."""
    available = hardware.available_memory()
    return available // 4 if available else 2 ** 31


def _decode_all(images):
    """Every image of a `FileImages` in memory; refuses the folder if any cannot be read."""
    bad = {}
    out = images.decode(np.arange(len(images)), failed=bad)
    if bad:
        raise image_files.unreadable_files_error(bad, len(images), images.root)
    return out


def load_array(path):
    """Loads an array file: a `.npz` (`images`, optional `labels`, `class_names`) or a `.npy`.

    Example (what `python -m gan_tf.generate --format=npz` writes, too):

    ```python
    np.savez("digits.npz", images=pixels, labels=labels, class_names=np.array(["0", "1"]))
    # then: python -m gan_tf.train --dataset=array:digits.npz
    ```

    The file is read with `allow_pickle=False`: an array of Python objects is refused, never
    unpickled. Accepted:

    - `images`: `(N, H, W)` or `(N, H, W, C)` with C = 1 (grayscale) or 3 (RGB), either
      uint8 pixels in [0, 255] (used as they are) or floats clearly in [-1, 1] (within half
      a pixel step, 1/255, of it, with values below -0.5 so they cannot be [0, 1] images).
      Floats become the pixels `gan_tf.images.to_uint8` gives, `round((x + 1) * 127.5)`,
      which `to_float` maps back to `p / 127.5 - 1`: uint8 pixels round-trip exactly, float
      images come back within 1/255 (half a pixel step) of what was saved.
    - `labels` (`.npz` only): N integer class indices (shape `(N,)` or `(N, 1)`) in
      [0, num_classes), where num_classes is `len(class_names)` if given, else
      `labels.max() + 1`.
    - `class_names` (`.npz` only, with `labels`): one string per class.

    Refused, with the fix in the message: float images in [0, 255] (uint8 pixels stored as
    float) or [0, 1], or anywhere else outside [-1, 1]; NaN or infinite values (their count
    and the first index); integer images other than uint8; a wrong rank or channel count
    (channels first, RGBA); no images; labels of another length, not integers or out of
    range; unknown keys (a misspelt `label` would silently drop the labels).
    """
    file = os.path.abspath(os.path.expanduser(path))
    shown = f"--dataset={ARRAY_PREFIX}{path}"
    if not file.lower().endswith(ARRAY_EXTENSIONS):
        raise UserError(f"Not an array file: received {shown}. Expected a .npz file (keys "
                        "'images', optional 'labels' and 'class_names') or a .npy file of "
                        "images.")
    if not os.path.isfile(file):
        raise UserError(f"Array file not found: received {shown}. Expected an existing .npz "
                        "or .npy file.")
    with open(file, "rb") as stream:
        magic = stream.read(6)
    if not magic:
        raise UserError(f"The array file {file} is empty (0 bytes). Save it again.")
    if not (magic.startswith(b"PK") or magic == b"\x93NUMPY"):
        what = ("a Python pickle, which gan_tf never loads" if magic.startswith(b"\x80")
                else f"it starts with {magic!r}")
        raise UserError(f"{file} is not a NumPy .npz or .npy file ({what}). Save it with "
                        "np.savez(path, images=...) or np.save(path, images).")
    _check_array_sizes(file, magic)
    try:
        if magic == b"\x93NUMPY":  # a .npy: images only
            arrays = {"images": np.load(file, allow_pickle=False)}
        else:
            with np.load(file, allow_pickle=False) as loaded:
                arrays = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _array_read_error(file, error) from None
    unknown = sorted(set(arrays) - set(ARRAY_KEYS))
    if "images" not in arrays or unknown:
        raise UserError(
            f"{file} holds the arrays {sorted(arrays)}. Expected 'images' (required), "
            "'labels' and 'class_names' (optional) and nothing else. Save it with "
            "np.savez(path, images=x, labels=y).")
    name = ARRAY_PREFIX + path
    images = _array_pixels(arrays["images"], file)
    labels, class_names = _array_labels(arrays.get("labels"), arrays.get("class_names"),
                                        len(images), file)
    return ImageData(name, images, labels, class_names)


def _npy_header(stream):
    """`(shape, dtype)` from the header of the .npy data at `stream`'s position."""
    version = np.lib.format.read_magic(stream)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)  # 2.0 and 3.0 differ in encoding only
    shape, _, dtype = read(stream)
    return shape, dtype


def _check_array_sizes(file, magic):
    """Refuses an array file whose arrays would not fit in memory, or a torn .npy, from the
    headers alone (before numpy allocates what a header claims)."""
    try:
        if magic == b"\x93NUMPY":
            with open(file, "rb") as stream:
                shape, dtype = _npy_header(stream)
                start = stream.tell()
            sizes = {"images": (shape, dtype)}
            needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if not dtype.hasobject and os.path.getsize(file) < start + needed:
                raise UserError(
                    f"The array file {file} is truncated: its header promises {shape} "
                    f"{dtype} ({_size(needed)}), but it holds {_size(os.path.getsize(file))}. "
                    "Save it again.")
        else:
            sizes = {}
            with zipfile.ZipFile(file) as archive:
                for member in archive.namelist():
                    if member.endswith(".npy"):
                        with archive.open(member) as stream:
                            sizes[member[:-4]] = _npy_header(stream)
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _array_read_error(file, error) from None
    needed = sum(int(np.prod(shape, dtype=object)) * dtype.itemsize
                 for shape, dtype in sizes.values())
    available = hardware.available_memory()
    if available is not None and needed > available:
        arrays = ", ".join(f"{name} {tuple(shape)} {dtype}"
                           for name, (shape, dtype) in sizes.items())
        raise UserError(
            f"The array file {file} holds {arrays}: {_size(needed)}, more than the "
            f"{_size(available)} of memory available now. Expected arrays that fit in memory: "
            "save a subset (e.g. images[:100000]), or write the images as files into a folder "
            "and pass --dataset=folder:PATH, which streams them from disk.")


def _size(nbytes):
    """`nbytes` for a message: "3.2 GiB", "12.0 MiB", "512 bytes"."""
    for unit, scale in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


def _array_read_error(file, error):
    message = first_line(error, 200) or type(error).__name__
    if "allow_pickle" in message:
        return UserError(f"{file} holds Python objects (a pickled, dtype=object array), which "
                         "gan_tf never unpickles. Save numeric arrays: np.savez(path, "
                         "images=np.asarray(images, np.uint8), labels=np.asarray(labels, "
                         "np.int64)).")
    return UserError(f"Cannot read the array file {file} ({type(error).__name__}: {message}). "
                     "It may be truncated or corrupt: save it again.")


def _array_pixels(images, file):
    """An array file's images -> uint8 pixels (N, H, W, C); UserError if unusable."""
    what = f"{file}: 'images' has shape {images.shape} and dtype {images.dtype}."
    expected = ("Expected uint8 pixels in [0, 255] or floats in [-1, 1], shaped (N, height, "
                "width) or (N, height, width, channels) with 1 or 3 channels.")
    if images.dtype.kind not in "uif":
        raise UserError(f"{what} {expected}")
    if images.ndim not in (3, 4):
        raise UserError(f"{what} {expected}")
    if images.ndim == 4 and images.shape[-1] not in (1, 3):
        hint = ""
        if images.shape[1] in (1, 3):
            hint = " They look channels-first: pass np.moveaxis(images, 1, -1)."
        elif images.shape[-1] == 4:
            hint = " They look RGBA: drop the alpha channel with images[..., :3]."
        raise UserError(f"{what} {expected}{hint}")
    if images.shape[0] == 0 or 0 in images.shape[1:3]:
        raise UserError(f"{what} It holds no images. {expected}")
    if images.dtype.kind in "iu" and images.dtype != np.uint8:
        low, high = images.min(), images.max()
        raise UserError(
            f"{what} Its values are integers in [{low}, {high}]. {expected} If they are pixels "
            "in [0, 255], save images.astype(np.uint8).")
    if images.dtype == np.uint8:
        pixels = images
    else:
        pixels = _float_images_to_pixels(images, what, expected)
    return pixels[..., None] if pixels.ndim == 3 else pixels


def _float_images_to_pixels(images, what, expected):
    from gan_tf import images as images_lib

    finite = np.isfinite(images)
    if not finite.all():
        nans = int(np.isnan(images).sum())
        infinite = int(images.size - finite.sum()) - nans
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        first_text = ", ".join(map(str, first))
        raise UserError(
            f"{what} It holds {nans} NaN and {infinite} infinite values (the first at "
            f"images[{first_text}] = {images[first]}). Expected finite values. Fix or drop "
            "those images, e.g. images[np.isfinite(images).reshape(len(images), -1).all(1)].")
    low, high = float(images.min()), float(images.max())
    tolerance = _RANGE_TOLERANCE
    values = f"Its values are in [{low:.4g}, {high:.4g}]."
    if low >= -tolerance and high <= 1 + tolerance:
        raise UserError(
            f"{what} {values} They look like [0, 1] images; gan_tf expects floats in [-1, 1] "
            "(or uint8 pixels). Map them with images * 2 - 1, or save uint8 pixels: "
            "np.round(images * 255).astype(np.uint8).")
    if low >= -tolerance and high <= 255 + 0.5:
        raise UserError(
            f"{what} {values} They look like uint8 pixels stored as float: pass uint8 "
            "(np.round(images).astype(np.uint8)) or scale to [-1, 1] (images / 127.5 - 1).")
    if low >= -1 - tolerance and high <= 1 + tolerance:
        if low > -0.5:
            raise UserError(
                f"{what} {values} With no value below -0.5 they are not clearly [-1, 1] "
                "images (whose darkest pixels would be near -1). Save them as uint8 pixels: "
                "gan_tf.images.to_uint8(images) if they are in [-1, 1], "
                "np.round(images * 255).astype(np.uint8) if in [0, 1].")
        return images_lib.to_uint8(np.clip(images, -1.0, 1.0))
    raise UserError(f"{what} {values} {expected} Rescale them to [-1, 1].")


def _array_labels(labels, class_names, count, file):
    """An array file's labels and class names -> (int32 labels, names) or (None, None)."""
    if labels is None:
        if class_names is not None:
            raise UserError(f"{file} has 'class_names' but no 'labels'. Add the labels (an "
                            "integer class index per image) or drop 'class_names'.")
        return None, None
    what = f"{file}: 'labels' has shape {labels.shape} and dtype {labels.dtype}."
    expected = (f"Expected {count} integer class indices (one per image) in [0, "
                "num_classes), num_classes being len(class_names) or labels.max() + 1.")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2 and labels.shape[0] == count and labels.shape[1] > 1:
        raise UserError(f"{what} {expected} They look one-hot: pass labels.argmax(axis=1).")
    if labels.ndim != 1 or labels.shape[0] != count:
        raise UserError(f"{what} {expected}")
    if labels.dtype.kind not in "iu":
        hint = ""
        if labels.dtype.kind == "f" and np.isfinite(labels).all() and (
                labels == np.round(labels)).all():
            hint = " They are whole numbers: save labels.astype(np.int64)."
        raise UserError(f"{what} {expected}{hint}")
    if class_names is not None:
        if class_names.dtype.kind not in "US" or class_names.ndim != 1 or not len(class_names):
            raise UserError(f"{file}: 'class_names' has shape {class_names.shape} and dtype "
                            f"{class_names.dtype}. Expected one string per class, e.g. "
                            "np.array(['cat', 'dog']).")
        names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)
                 for n in class_names.tolist()]
        if len(set(names)) != len(names):
            raise UserError(f"{file}: 'class_names' repeats a name ({names}). Expected one "
                            "distinct name per class.")
    else:
        names = None
    num_classes = len(names) if names is not None else int(labels.max()) + 1
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if outside.size:
        first = int(outside[0])
        raise UserError(
            f"{what} {outside.size} of the {count} labels are outside [0, {num_classes}) "
            f"(the first: labels[{first}] = {labels[first]}). {expected}")
    if names is None:
        if num_classes > count:
            raise UserError(
                f"{what} Its largest label is {num_classes - 1}, which makes more classes than "
                f"the {count} images: these look like ids, not class indices. Map them to "
                "0..K-1 (np.unique(labels, return_inverse=True)[1]) or add 'class_names'.")
        names = [str(index) for index in range(num_classes)]
    return labels.astype(np.int32), names


def check_images(images, name="dataset"):
    """Raises `UserError` unless `images` is non-empty uint8 of shape (N, H, W, 1|3) whose
    pixels are not all 0 or 1 (binary masks or [0, 1] images stored as uint8 would train a
    GAN on black images; of a streamed `FileImages`, its first 64 images are looked at)."""
    if not isinstance(images, image_files.LazyImages):
        images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or min(images.shape[1:3]) < 1:
        raise UserError(f"{name}: images have shape {images.shape}. Expected (N, height, width, "
                        "channels) with 1 (grayscale) or 3 (RGB) channels.")
    if images.dtype != np.uint8:
        raise UserError(f"{name}: images have dtype {images.dtype}. Expected uint8 pixels in "
                        "[0, 255].")
    if images.shape[0] == 0:
        raise UserError(f"{name}: the dataset is empty.")
    if (images if isinstance(images, np.ndarray) else images[:64]).max() <= 1:
        raise UserError(
            f"{name}: every pixel is 0 or 1 (of 0-255). These look like binary masks or [0, "
            "1] images stored as uint8, which would train on black images. Scale them to "
            "[0, 255] (pixels * 255).")


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


def make_dataset(data, batch_size, seed, start_epoch=0, end_epoch=1, start_step=0):
    """Batches for epochs `[start_epoch, end_epoch)` of `data`, as one `tf.data.Dataset`.

    Each epoch is a permutation of the images drawn from (seed, epoch) alone, cut into
    `len(data) // batch_size` full batches (the remainder is left out for that epoch only).
    Elements are float32 images in [-1, 1], or `(images, labels)` for labelled data.
    `start_step` skips the first batches of `start_epoch` (a run resumed in mid-epoch): only
    their indices are skipped, so their images are neither gathered nor decoded.

    In-memory pixels are gathered batch by batch; a streamed dataset (`FileImages`) decodes
    each batch's files when the batch is made, on tf.data's private threads, several batches
    ahead. Either way the batches are the same.

    Returns:
        `(dataset, steps_per_epoch)`.
    """
    import tensorflow as tf

    check_batch_size(data, batch_size)
    count = len(data)
    steps_per_epoch = count // batch_size
    if not 0 <= start_step < steps_per_epoch:
        raise invalid("start_step", start_step, f"a batch of the epoch, 0 to "
                      f"{steps_per_epoch - 1}")
    labels = None if data.labels is None else tf.constant(data.labels, tf.int32)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order[: steps_per_epoch * batch_size]).batch(
            batch_size, drop_remainder=True
        )

    if is_streamed(data):
        pixels_of = data.images.batch_pixels
        ahead = 4  # decoding takes longer than a gather and varies from image to image
    else:
        images = tf.constant(data.images)

        def pixels_of(indices):
            return tf.gather(images, indices)
        ahead = 2

    def gather(indices):
        batch = to_float(tf.ensure_shape(pixels_of(indices), (batch_size,) + data.image_shape))
        return batch if labels is None else (batch, tf.gather(labels, indices))

    # Its own threads: train() runs TensorFlow's ops on one inter-op thread (bit-identical
    # runs), which tf.data would otherwise share with the training step.
    threads = max(2, os.cpu_count() or 2)
    dataset = tf.data.Dataset.range(start_epoch, end_epoch).flat_map(epoch_batches)
    dataset = dataset.skip(start_step)
    dataset = dataset.map(gather, num_parallel_calls=threads, deterministic=True)
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    # No autotuning: an iterator that tf.data autotunes, deleted before it is exhausted (the
    # end of every `fit` with steps_per_epoch, or of a run cut short), blocks its deletion
    # until the autotuner's next wake-up, 10 * (2^k - 1) ms after the iterator was made: up
    # to the length of the fit call itself (measured: 20 s fit calls took 20.5 s or 10.2 s).
    # A gather from memory needs no tuning: one batch per thread, two batches ahead.
    options.autotune.enabled = False
    return dataset.prefetch(ahead).with_options(options), steps_per_epoch


def network_reachable(timeout=3.0):
    """True if tensorflow-datasets' download server answers within `timeout` seconds."""
    try:
        with socket.create_connection(_DOWNLOAD_PROBE, timeout=timeout):
            return True
    except OSError:
        return False


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
