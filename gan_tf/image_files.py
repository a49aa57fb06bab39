"""Images decoded when they are used: image files of a folder, and the `LazyImages` base.

`load_folder` (in `gan_tf.data`) decides from the headers alone what a folder holds (how
many images, grayscale or RGB, their size) and then either decodes every file into memory or,
when the decoded pixels would not fit, hands out a `FileImages`: an array-like of shape
`(N, H, W, C)` that decodes only the images it is indexed with. `make_dataset` streams any
`LazyImages` (files here, a tensorflow-datasets split in `gan_tf.data`) through `tf.data`,
decoding each batch when it is needed.

Every image file is decoded by one function, `read_image` (PIL: EXIF orientation, alpha onto
black, 16-bit scaled to 8 bits, grayscale or RGB, optional Lanczos resize), so a folder
gives the same pixels in memory and streamed. PIL releases Python's lock while it
decompresses, so threads decode in parallel.
"""

import concurrent.futures
import contextlib
import hashlib
import os

import numpy as np

from gan_tf.errors import UserError, first_line, invalid

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_NAMED = 5  # how many unreadable files of a folder an error message names
_EXIF_IN_HEADER = ("JPEG", "MPO", "WEBP", "TIFF")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
# Files per task handed to a decoding thread: big enough that a thread's Python overhead is
# small against the decoding, small enough that both threads get work on small sets.
_CHUNK = 256


def image_height_width(image_size):
    """`--image_size` -> `(height, width)`: N (square) or "WIDTHxHEIGHT"; None stays None.

    Raises `UserError` for anything else (sizes must be positive integers).
    """
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        parts = [int(image_size)] * 2
    else:
        text = str(image_size).strip().lower()
        pieces = text.split("x")
        if len(pieces) not in (1, 2) or not all(p.isdigit() for p in pieces):
            raise invalid("image_size", image_size, "N (resize to N x N, e.g. 64) or "
                          "WIDTHxHEIGHT (e.g. 128x96)")
        parts = [int(p) for p in pieces] * (2 if len(pieces) == 1 else 1)
    if min(parts) < 1:
        raise invalid("image_size", image_size, "sizes of at least 1 pixel, e.g. 64 or 128x96")
    width, height = parts
    return height, width


def canonical_image_size(image_size):
    """`--image_size` as recorded: an int N for N x N, "WIDTHxHEIGHT" otherwise, or None."""
    size = image_height_width(image_size)
    if size is None:
        return None
    height, width = size
    return width if width == height else f"{width}x{height}"


def resize_pixels(pixels, image_size):
    """uint8 pixels (..., H, W, C) -> uint8 (..., height, width, C) of `image_size` (N for
    N x N, or "WIDTHxHEIGHT"), antialiased."""
    import tensorflow as tf

    resized = tf.image.resize(pixels, image_height_width(image_size),
                              antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def decoding_threads():
    """How many threads decode images: the CPUs this process may use (at least 2)."""
    try:
        return max(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(2, os.cpu_count() or 2)


def list_image_files(root):
    """Sorted paths of the image files under `root` (hidden files and others skipped)."""
    return sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
    )


def skipped_files(root):
    """`{extension: count}` of the files under `root` that `list_image_files` skips (not
    hidden ones), for the one line that says so."""
    skipped = {}
    for _, _, names in os.walk(root):
        for name in names:
            if not name.startswith(".") and not name.lower().endswith(IMAGE_EXTENSIONS):
                extension = os.path.splitext(name)[1].lower() or "no extension"
                skipped[extension] = skipped.get(extension, 0) + 1
    return skipped


@contextlib.contextmanager
def no_bomb_warnings():
    """PIL's DecompressionBombWarning (an image of 89-179 megapixels) kept off stderr: gan_tf
    sizes every image itself and refuses what does not fit, with one message."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def image_errors():
    """What PIL raises for a file it cannot read."""
    from PIL import Image

    # OSError: unidentified, truncated or broken data; SyntaxError: PIL's "broken PNG file";
    # DecompressionBombError: a header claiming an absurd size.
    return (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def image_problem(file, error):
    """A short reason why PIL could not read `file`."""
    try:
        if os.path.getsize(file) == 0:
            return "an empty file, 0 bytes"
    except OSError:
        pass
    from PIL import UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return "not a readable image"
    message = first_line(error, 120)
    return message or type(error).__name__


def _header(file):
    """`(mode, (width, height) upright)` of one file from its header, or raises."""
    from PIL import Image

    with Image.open(file) as image:
        width, height = image.size
        # EXIF Orientation, where the header holds it (a PNG's getexif() decodes the image to
        # look for an eXIf chunk after the pixels: not done here).
        orientation = (image.getexif().get(0x0112, 1) if image.format in _EXIF_IN_HEADER
                       else 1)
        if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: read_image transposes it
            width, height = height, width
        return image.mode, (width, height)


def map_in_threads(function, items, threads=None):
    """`[function(item) for item in items]`, in chunks on a thread pool, in order."""
    chunks = [items[start:start + _CHUNK] for start in range(0, len(items), _CHUNK)]
    if len(chunks) <= 1:
        return [function(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(threads or decoding_threads()) as pool:
        parts = pool.map(lambda chunk: [function(item) for item in chunk], chunks)
        return [result for part in parts for result in part]


def read_headers(files):
    """`(headers, bad)`: `{file: (mode, (width, height))}` and `{file: reason}`, in parallel.

    Only headers are read (PIL opens lazily), so this is fast even for large folders.
    """
    errors = image_errors()

    def one(file):
        try:
            return file, _header(file), None
        except errors as error:
            return file, None, image_problem(file, error)

    headers, bad = {}, {}
    with no_bomb_warnings():
        results = list(map_in_threads(one, files))
    for file, header, problem in results:
        if problem is None:
            headers[file] = header
        else:
            bad[file] = problem
    return headers, bad


def unreadable_files_error(bad, count, root):
    """The `UserError` for a folder with unreadable files (`bad`: `{file: reason}`)."""
    named = "; ".join(f"{os.path.relpath(file, root)} ({bad[file]})"
                      for file in sorted(bad)[:MAX_NAMED])
    more = f"; and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
    return UserError(
        f"{len(bad)} of the {count} image files in {root} cannot be read: {named}{more}. "
        "Remove or replace them (gan_tf never skips unreadable files, so the dataset is what "
        "the folder shows).")


def is_gray(modes):
    """Whether a folder whose images have these PIL modes is read as grayscale."""
    return all(mode in _GRAY_MODES for mode in modes)


def read_image(file, gray, image_size=None):
    """One image file -> uint8 array (H, W) if `gray` else (H, W, 3).

    `image_size` resizes with Lanczos to `image_size x image_size`, or to `(height, width)`.
    """
    from PIL import Image, ImageOps

    with no_bomb_warnings(), Image.open(file) as opened:  # callers report what this raises
        # Upright by EXIF orientation where the header holds it (JPEG, WebP, TIFF), as
        # `read_headers` sizes the image; a PNG's rare eXIf chunk is not read.
        image = (ImageOps.exif_transpose(opened) if opened.format in _EXIF_IN_HEADER
                 else opened.copy())  # both are new images, usable once the file is closed
        image.load()
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
        height, width = ((image_size, image_size) if isinstance(image_size, int)
                         else tuple(image_size))
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


class UnreadableImage(UserError):
    """An image file of a streamed folder that could not be decoded (its header was fine)."""

    def __init__(self, file, reason):
        super().__init__(f"Cannot read the image file {file} ({reason}). Replace it with a "
                         "readable image of the same name (or remove it and start a new run: "
                         "the dataset would change).")
        self.file = file
        self.reason = reason


class LazyImages:
    """Pixels decoded when they are indexed: a uint8 array-like `(N, H, W, C)`.

    It has an array's `shape`, `dtype` (uint8), `ndim`, `nbytes` and `len`; indexing with an
    integer, a slice, an index array or a boolean mask decodes just those images and returns
    a numpy array; `np.asarray(images)` decodes them all. `make_dataset` builds training
    batches from `batch_pixels` inside tf.data. Subclasses say where the pixels come from.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, count, image_shape):
        self._count = int(count)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.failures = {}  # file -> UnreadableImage of each failed decode, for messages

    @property
    def shape(self):
        return (self._count,) + self.image_shape

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self):
        return self._count

    def _indices(self, key):
        if isinstance(key, slice):
            return np.arange(self._count)[key]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (self._count,):
                raise IndexError(f"a boolean mask of shape {key.shape} for {len(self)} images")
            return np.flatnonzero(key)
        if key.ndim != 1 or not np.issubdtype(key.dtype, np.integer):
            raise IndexError(f"{type(self).__name__} takes an integer, a slice, a 1-d integer "
                             f"array or a boolean mask, not {key!r}")
        return key

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.decode([int(key)])[0]
        if isinstance(key, tuple):
            raise IndexError(f"{type(self).__name__} takes one index (images), not a tuple")
        return self.decode(self._indices(key))

    def __array__(self, dtype=None, copy=None):
        pixels = self.decode(np.arange(self._count))
        return pixels if dtype is None else pixels.astype(dtype)

    def subset(self, indices):
        """The images at `indices`, still undecoded."""
        raise NotImplementedError

    def decode(self, indices, threads=None):
        """The pixels `(len(indices), H, W, C)` of the images at `indices`."""
        raise NotImplementedError

    def batch_pixels(self, indices):
        """TensorFlow ops: int64 `indices` (batch,) -> uint8 pixels, for tf.data's map."""
        raise NotImplementedError

    def fingerprint(self):
        """A hash naming these images without decoding them (a cache key)."""
        raise NotImplementedError


class FileImages(LazyImages):
    """The pixels of image files, decoded (by `read_image`) when they are indexed.

    Args:
        files: the image files, in dataset order.
        shape: `(height, width, channels)` of every decoded image (channels 1 or 3).
        image_size: what `read_image` resizes to (None: the files' own size).
        root: the folder, for messages.
    """

    def __init__(self, files, shape, image_size=None, root=None):
        super().__init__(len(files), shape)
        self.files = tuple(files)
        self.image_size = image_size
        self.root = root

    def __repr__(self):
        return f"FileImages({len(self.files)} files, shape={self.shape}, root={self.root!r})"

    def subset(self, indices):
        """The `FileImages` of the files at `indices` (nothing is decoded)."""
        return FileImages([self.files[int(i)] for i in self._indices(indices)],
                          self.image_shape, self.image_size, self.root)

    def decode_one(self, index):
        """The pixels `(H, W, C)` of image `index`; raises `UnreadableImage`."""
        file = self.files[index]
        try:
            pixels = read_image(file, self.image_shape[-1] == 1, self.image_size)
        except image_errors() as error:
            failure = self.failures[file] = UnreadableImage(file, image_problem(file, error))
            raise failure from None
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if pixels.shape != self.image_shape:
            size = f"{pixels.shape[1]}x{pixels.shape[0]}"
            failure = self.failures[file] = UnreadableImage(
                file, f"its pixels are {size}, not {self.image_shape[1]}x{self.image_shape[0]} "
                "as its header and the other images said")
            raise failure
        return pixels

    def decode(self, indices, threads=None, failed=None):
        """The pixels `(len(indices), H, W, C)` of the images at `indices`, decoded in
        parallel when there are many.

        With a dict `failed`, an unreadable file does not raise: `failed[file]` gets its
        reason and every other image is still decoded (to name all bad files at once)."""
        indices = [int(i) for i in np.asarray(indices).reshape(-1)]
        out = np.empty((len(indices),) + self.image_shape, np.uint8)

        def one(position_index):
            position, index = position_index
            try:
                out[position] = self.decode_one(index)
            except UnreadableImage as error:
                if failed is None:
                    raise
                failed[error.file] = error.reason

        map_in_threads(one, list(enumerate(indices)), threads)
        return out

    def decode_batch(self, indices):
        """`decode` for `tf.data`: one batch in the calling thread (tf.data runs batches in
        parallel)."""
        out = np.empty((len(indices),) + self.image_shape, np.uint8)
        for position, index in enumerate(indices):
            out[position] = self.decode_one(int(index))
        return out

    def batch_pixels(self, indices):
        import tensorflow as tf

        pixels = tf.numpy_function(self.decode_batch, [indices], tf.uint8, stateful=False)
        return tf.ensure_shape(pixels, (None,) + self.image_shape)

    def fingerprint(self):
        """A hash of the files' relative paths, sizes and modification times (no decoding)."""
        digest = hashlib.sha256(repr((self.image_shape, self.image_size)).encode())
        for file in self.files:
            stat = os.stat(file)
            name = os.path.relpath(file, self.root) if self.root else file
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


class TfdsImages(LazyImages):
    """The images of a tensorflow-datasets split prepared in a random-access format
    (array_record), decoded when they are indexed.

    Records are read by tensorflow-datasets' data source (one per thread) and decoded by the
    dataset's own image feature with TensorFlow, then resized like `load_tfds` does in
    memory, so both give the same pixels.

    Args:
        builder: the prepared `tfds` builder.
        split: the split's name.
        image_key: the image feature's name.
        rows: the records of the split these images are, in order.
        shape: `(height, width, channels)` of every decoded image.
        image_size: what images are resized to, as `load_tfds` takes it (None: their own
            size).
    """

    def __init__(self, builder, split, image_key, rows, shape, image_size=None):
        import threading

        super().__init__(len(rows), shape)
        self.builder, self.split, self.image_key = builder, split, image_key
        self.rows = np.asarray(rows, np.int64)
        self.image_size = image_size
        self._local = threading.local()
        self._decode_function = None

    def __repr__(self):
        return (f"TfdsImages({self.builder.name} {self.split!r}, {len(self)} images, "
                f"shape={self.shape})")

    def _source(self):
        source = getattr(self._local, "source", None)
        if source is None:
            import tensorflow_datasets as tfds

            source = self.builder.as_data_source(
                self.split, decoders={self.image_key: tfds.decode.SkipDecoding()})
            self._local.source = source
        return source

    def encoded(self, indices):
        """The encoded bytes (PNG, JPEG, ...) of the images at `indices`, as an object array."""
        rows = self._source().__getitems__([int(self.rows[i]) for i in indices])
        out = np.empty(len(rows), object)
        out[:] = [row[self.image_key] for row in rows]
        return out

    def batch_pixels(self, indices):
        import tensorflow as tf

        feature = self.builder.info.features[self.image_key]
        encoded = tf.numpy_function(self.encoded, [indices], tf.string, stateful=False)

        def one(raw):
            image = feature.decode_example(raw)
            return image if self.image_size is None else resize_pixels(image, self.image_size)

        return tf.map_fn(one, tf.reshape(encoded, [-1]),
                         fn_output_signature=tf.TensorSpec(self.image_shape, tf.uint8))

    def decode(self, indices, threads=None):
        import tensorflow as tf

        if self._decode_function is None:
            self._decode_function = tf.function(
                self.batch_pixels, input_signature=[tf.TensorSpec([None], tf.int64)])
        indices = np.asarray(indices, np.int64).reshape(-1)
        out = np.empty((len(indices),) + self.image_shape, np.uint8)
        for start in range(0, len(indices), 1024):
            chunk = indices[start:start + 1024]
            out[start:start + len(chunk)] = self._decode_function(tf.constant(chunk)).numpy()
        return out

    def subset(self, indices):
        return TfdsImages(self.builder, self.split, self.image_key,
                          self.rows[self._indices(indices)], self.image_shape, self.image_size)

    def fingerprint(self):
        """A hash of the dataset's name, version, folder, split and records."""
        digest = hashlib.sha256(repr((self.builder.name, str(self.builder.version),
                                      str(self.builder.data_dir), self.split,
                                      self.image_shape, self.image_size)).encode())
        digest.update(self.rows.tobytes())
        return digest.hexdigest()
