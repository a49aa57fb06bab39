"""Feature extractors for the sample-quality metrics: a domain classifier and Inception-v3.

An extractor turns images in [-1, 1] into feature vectors (for FD, KID, precision/recall,
density/coverage, nearest neighbours) and, where it can, class probabilities (for the
classifier / Inception score and class coverage). Its `metric_names` say what its scores are
called everywhere they appear: only the reference graph's are "FID", "KID" and "IS".

- `DomainClassifier` (the offline default): a small CNN that gan_tf trains on the dataset's
  own labelled images (90%, class-balanced) and tests on the other 10%; its held-out
  accuracy goes beside every score computed with it, because a weak judge makes weak
  scores. Its penultimate layer gives the features. Trained once per dataset: it is cached
  under the cache directory by a fingerprint of the dataset's pixels and labels.
- `ReferenceInception` (`--extractor=inception`): the frozen Inception graph of 2015-12-05
  (`classify_image_graph_def.pb` from `inception-2015-12-05.tgz`) that the FID authors' code
  (TTUR), the original Inception Score code and clean-fid's legacy_tensorflow mode use, fed
  exactly as they feed it: 8-bit pixels as float32 in [0, 255] at the images' own size, into
  the graph's `ExpandDims:0`, resized inside the graph by its own `ResizeBilinear`. Its 2,048-d
  `pool_3` features give FID/KID comparable with papers. Its SHA-256 is checked before use.
- `KerasInceptionExtractor` (`--extractor=keras_inception`): keras.applications.InceptionV3
  with ImageNet weights read from disk, on images resized to 299x299 with antialiasing. Other
  weights than the reference graph's: its FD/KD are not comparable with published FIDs.

Nothing here downloads: without a file it says where to get it and where to put it.
The cache directory is `$GAN_TF_CACHE`, else `~/.cache/gan_tf`.
"""

import hashlib
import json
import os

import numpy as np

from gan_tf import names, progress
from gan_tf.errors import UserError, check_positive_int, invalid
from gan_tf.files import atomic_write_bytes, atomic_write_text, staging_directory
from gan_tf.messages import get_logger

_logger = get_logger(__name__)

EXTRACTORS = names.EXTRACTORS  # the choices of --extractor
CLASSIFIER_VERSION = 2  # bump when the classifier's architecture or training changes
INCEPTION_SIZE = 299
KERAS_INCEPTION_FILES = ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
                         "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")


def cache_dir(path=None):
    """The folder for cached classifiers and real-data statistics."""
    path = path or os.environ.get("GAN_TF_CACHE") or os.path.join("~", ".cache", "gan_tf")
    return os.path.abspath(os.path.expanduser(path))


def dataset_fingerprint(data):
    """A short hash of a dataset's pixels, labels and shape: the key of everything cached."""
    digest = hashlib.sha256()
    digest.update(repr((data.images.shape, str(data.images.dtype))).encode())
    if isinstance(data.images, np.ndarray):
        digest.update(np.ascontiguousarray(data.images).tobytes())
    else:  # a streamed folder: its files' names, sizes and times, without decoding them
        digest.update(data.images.fingerprint().encode())
    if data.labels is not None:
        digest.update(np.ascontiguousarray(data.labels, np.int64).tobytes())
    return digest.hexdigest()[:16]


def held_out_split(labels, count, fraction=0.1, seed=0):
    """`(train_indices, held_out_indices)`: a class-balanced split, a pure function of seed."""
    from gan_tf.data import stratified_split

    return stratified_split(labels, count, fraction, seed, at_least=1)


class Extractor:
    """What the metrics need from a feature extractor.

    Attributes:
        name: identifies the extractor in reports and cache keys.
        num_classes: classes of `probabilities`, or None if it has none.
        accuracy: held-out accuracy of a domain classifier (None for Inception).
    """

    name = "extractor"
    num_classes = None
    accuracy = None
    batch_size = 250  # images per forward pass

    def features(self, images, batch_size=None):
        """`(N, d)` float32 features of images in [-1, 1]."""
        return self._run(images, batch_size)[0]

    def probabilities(self, images, batch_size=None):
        """`(N, num_classes)` class probabilities, or None if the extractor has no classes."""
        return self._run(images, batch_size)[1]

    def features_and_probabilities(self, images, batch_size=None):
        return self._run(images, batch_size)

    def describe(self):
        return {"name": self.name, "num_classes": self.num_classes, "accuracy": self.accuracy,
                "metric_names": self.metric_names}

    def key(self):
        """Identifies the extractor's feature space (for caches and comparable scores)."""
        return self.name

    @property
    def metric_names(self):
        """What its scores are called: `{"fd": ..., "kid": ..., "is": ...}` (see
        `gan_tf.names.METRIC_NAMES`); "FID"/"KID"/"IS" only for the reference graph."""
        return dict(names.METRIC_NAMES.get(self.name, {
            "fd": f"FD ({self.name} features)", "kid": f"KD ({self.name} features)",
            "is": f"{self.name} score"}))

    def _run(self, images, batch_size):
        import tensorflow as tf

        batch_size = batch_size or self.batch_size

        features, probabilities = [], []
        bar = progress.bar(len(images), f"Features of {len(images):,} images ({self.name})")
        for start in range(0, len(images), batch_size):
            batch = tf.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32))
            feature, probability = self._call(batch)
            bar.add(len(batch))
            features.append(np.asarray(feature, np.float32))
            if probability is not None:
                probabilities.append(np.asarray(probability, np.float32))
        if not features:
            raise invalid("images", "an empty array", "at least one image")
        return (np.concatenate(features),
                np.concatenate(probabilities) if probabilities else None)

    def _call(self, batch):
        raise NotImplementedError


def _classifier_model(image_shape, num_classes):
    import keras

    images = keras.Input(shape=image_shape, name="images")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_0")(images)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    for index, filters in enumerate((64, 128), start=1):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                                name=f"conv_{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    features = keras.layers.Dense(128, activation="relu", name="features")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(
        keras.layers.Dropout(0.3, name="dropout")(features))
    return keras.Model(images, [features, logits], name="domain_classifier")


class DomainClassifier(Extractor):
    """A small CNN trained on the dataset itself: features, class probabilities, accuracy.

    Example:
    ```python
    digits = gan_tf.data.load_embedded_mnist()
    judge = DomainClassifier.for_dataset(digits)  # trains (~20 s on 2 cores) or loads
    judge.accuracy                                # held-out accuracy, e.g. 0.97
    features = judge.features(gan.generate(1000))
    ```

    Args:
        model: a Keras model from images to `[features, logits]`.
        accuracy: its held-out accuracy.
        name: report name. Defaults to "classifier".
    """

    def __init__(self, model, accuracy, name="classifier"):
        self.model = model
        self.accuracy = float(accuracy)
        self.name = name
        self.num_classes = int(model.outputs[1].shape[-1])

    def _call(self, batch):
        import tensorflow as tf

        features, logits = self.model(batch, training=False)
        return features, tf.nn.softmax(logits)

    def key(self):
        return f"{self.name}-acc{self.accuracy:.4f}"

    @classmethod
    def for_dataset(cls, data, cache=None, epochs=8, seed=0):
        """The classifier of labelled `data`: loaded from the cache, or trained and cached."""
        import keras

        problem = classifier_problem(data)
        if problem:
            raise UserError(f"{problem} Use --extractor=inception (the reference FID graph "
                            "on disk) for such data.")
        folder = os.path.join(cache_dir(cache), "classifiers",
                              f"{dataset_fingerprint(data)}-v{CLASSIFIER_VERSION}")
        model_path = os.path.join(folder, "classifier.keras")
        info_path = os.path.join(folder, "info.json")
        if os.path.exists(model_path) and os.path.exists(info_path):
            try:
                with open(info_path, encoding="utf-8") as stream:
                    info = json.load(stream)
                return cls(keras.saving.load_model(model_path), info["accuracy"])
            except (OSError, ValueError, KeyError) as error:
                _logger.warning(f"Warning: the cached classifier in {folder} cannot be read "
                                f"({error}); training it again.")
        model, accuracy = train_classifier(data, epochs=epochs, seed=seed)
        _save_classifier(model, accuracy, data, folder)
        _logger.info(f"Trained the domain classifier of {data.name}: held-out accuracy "
                     f"{accuracy:.4f}; cached in {folder}")
        return cls(model, accuracy)


MIN_IMAGES_PER_CLASS = 10
# The domain classifier of a streamed (larger than memory) folder trains on at most this many.
MAX_STREAMED_CLASSIFIER_IMAGES = 20_000


def classifier_problem(data):
    """Why the domain classifier cannot be trained on `data` (a sentence), or None."""
    if data.labels is None or not data.num_classes or data.num_classes < 2:
        return (f"The domain classifier needs a labelled dataset with 2 or more classes; "
                f"{data.name} has none.")
    counts = np.bincount(data.labels, minlength=data.num_classes)
    if counts.min() < MIN_IMAGES_PER_CLASS:
        return (f"The domain classifier needs at least {MIN_IMAGES_PER_CLASS} images of each "
                f"class to train and test on; {data.name} has {int(counts.min())} of class "
                f"{data.class_names[int(counts.argmin())]!r}.")
    return None


def train_classifier(data, epochs=8, seed=0, batch_size=64):
    """Trains the domain classifier on 90% of labelled `data`; `(model, held-out accuracy)`."""
    import keras
    import tensorflow as tf

    from gan_tf.data import to_float

    if not isinstance(data.images, np.ndarray):
        # A streamed folder does not fit in memory: a class-balanced part of it does, as
        # float32 pixels within the memory budget of in-memory data.
        from gan_tf.data import subset

        # A fixed cap (not the free memory of the moment), so every process that judges this
        # dataset trains the same classifier: 20,000 images, or 2 GiB of float32 pixels.
        fits = 2**31 // (4 * int(np.prod(data.image_shape)))
        count = max(100, min(MAX_STREAMED_CLASSIFIER_IMAGES, fits))
        if len(data) > count:
            data = subset(data, count, seed)
    train, held_out = held_out_split(data.labels, len(data), seed=seed)
    keras.utils.set_random_seed(seed)
    model = _classifier_model(data.image_shape, data.num_classes)
    trainer = keras.Model(model.inputs, model.outputs[1])
    trainer.compile(keras.optimizers.Adam(1e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    images = np.asarray(to_float(np.asarray(data.images)))
    dataset = tf.data.Dataset.from_tensor_slices((images[train], data.labels[train]))
    dataset = dataset.shuffle(len(train), seed=seed).batch(batch_size).prefetch(2)
    trainer.fit(dataset, epochs=epochs, verbose=0, shuffle=False)
    accuracy = trainer.evaluate(images[held_out], data.labels[held_out], verbose=0)[1]
    return model, float(accuracy)


def _save_classifier(model, accuracy, data, folder):
    with staging_directory(folder, "classifier") as staging:
        model.save(os.path.join(staging, "classifier.keras"))
        atomic_write_text(os.path.join(staging, "info.json"), json.dumps({
            "accuracy": accuracy, "dataset": data.name, "num_examples": len(data),
            "class_names": list(data.class_names), "version": CLASSIFIER_VERSION}, indent=2))
        if not os.path.exists(folder):  # another process cached it meanwhile: keep theirs
            os.rename(staging, folder)


class ReferenceInception(Extractor):
    """The reference FID network: the frozen Inception graph of 2015-12-05, fed as TTUR feeds it.

    `classify_image_graph_def.pb` (from `inception-2015-12-05.tgz`, see
    `gan_tf.names.REFERENCE_INCEPTION_URL`) is read from disk, its SHA-256 checked against the
    reference one before anything else reads it, and imported into a TensorFlow 2 function
    with its input `ExpandDims:0` replaced by a batch of any size (what TTUR's shape patch of
    the graph's batch dimension achieves in TensorFlow 1). Images go in as the reference code
    feeds them: 8-bit pixels (`gan_tf.images.to_uint8`, as a PNG of the sample would hold them)
    as float32 in [0, 255], grey tiled to RGB, at their own size; the graph resizes them to
    299x299 with its own `ResizeBilinear` and scales them by `(x - 128) / 128`.

    Features: `pool_3` (2,048-d). Probabilities: `softmax(pool_3 @ W)` over the graph's 1,008
    classes, with `W` the weights of `softmax/logits/MatMul` and no bias, as the original
    Inception Score code computes them (openai/improved-gan, `inception_score/model.py`).

    Example:
    ```python
    judge = ReferenceInception("~/.cache/gan_tf/classify_image_graph_def.pb",
                               expected_sha256="<the checksum you trust>")
    features = judge.features(gan.generate(1000))  # (1000, 2048)
    ```

    Args:
        path: `classify_image_graph_def.pb`, or `inception-2015-12-05.tgz` holding it. None:
            `<cache>/classify_image_graph_def.pb`.
        expected_sha256: the checksum to require. Defaults to
            `gan_tf.names.REFERENCE_INCEPTION_SHA256`; while that is None (not pinned), it
            must be given.
        cache: the cache directory of the default path (default `$GAN_TF_CACHE` or
            ~/.cache/gan_tf).
    """

    name = "inception"
    batch_size = 16  # 299x299 activations inside the graph: about 3 GB of memory at 16
    INPUT = "ExpandDims:0"
    FEATURES = "pool_3:0"
    LOGITS_MATMUL = "softmax/logits/MatMul"

    def __init__(self, path=None, expected_sha256=None, cache=None):
        import tensorflow as tf

        self.path = os.path.abspath(os.path.expanduser(
            path or os.path.join(cache_dir(cache), names.REFERENCE_INCEPTION_FILE)))
        data = read_reference_graph(self.path)
        self.sha256 = check_reference_graph(data, self.path, expected_sha256)
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(data)
        except Exception:  # protobuf's DecodeError, whose module varies with its version
            raise UserError(f"{self.path} is not a TensorFlow GraphDef. Pass "
                            f"{names.REFERENCE_INCEPTION_FILE} from "
                            f"{names.REFERENCE_INCEPTION_URL}.") from None
        self._function, self.num_classes, self.num_features = _import_reference(graph_def,
                                                                                self.path)

    def describe(self):
        return {**super().describe(), "weights": self.path, "sha256": self.sha256,
                "num_features": self.num_features,
                "preprocessing": "to_uint8, float32 [0, 255], grey tiled to RGB, into "
                                 "ExpandDims:0 at native size (in-graph ResizeBilinear to "
                                 "299, (x - 128) / 128)"}

    def key(self):
        return "inception-reference-" + self.sha256[:12]

    def _call(self, batch):
        import tensorflow as tf

        return self._function(tf.convert_to_tensor(reference_pixels(batch)))


def reference_pixels(images):
    """Images in [-1, 1] -> what the reference FID code feeds: float32 RGB pixels in [0, 255].

    Quantized to 8 bits first (`gan_tf.images.to_uint8`: the PNG a sample would be saved as,
    which TTUR reads back), grey tiled to 3 channels; the size is left as it is.
    """
    from gan_tf.images import to_uint8

    pixels = to_uint8(np.asarray(images, np.float32))
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise invalid("images", f"an array of shape {pixels.shape}",
                      "images (N, H, W, C) with 1 or 3 channels")
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels.astype(np.float32)


def read_reference_graph(path):
    """The bytes of `classify_image_graph_def.pb` at `path` (the file, or inside the .tgz)."""
    import tarfile

    where = (f"Get {names.REFERENCE_INCEPTION_URL} (from a machine with network access), "
             f"extract {names.REFERENCE_INCEPTION_FILE} and put it at "
             f"{os.path.join(cache_dir(), names.REFERENCE_INCEPTION_FILE)} or pass "
             "--inception_weights=PATH (the .pb, or the .tgz itself).")
    if not os.path.isfile(path):
        raise UserError(f"The reference FID network is not at {path}. {where}")
    if path.lower().endswith((".tgz", ".tar.gz")):
        try:
            with tarfile.open(path, "r:gz") as archive:
                member = next((m for m in archive.getmembers() if os.path.basename(m.name)
                               == names.REFERENCE_INCEPTION_FILE and m.isfile()), None)
                if member is None:
                    raise UserError(f"{path} holds no {names.REFERENCE_INCEPTION_FILE}. {where}")
                return archive.extractfile(member).read()
        except (OSError, tarfile.TarError, EOFError) as error:
            raise UserError(f"Cannot read {path} as a .tgz archive ({error}). {where}") from None
    with open(path, "rb") as stream:
        return stream.read()


def check_reference_graph(data, path, expected_sha256=None):
    """Checks the graph's bytes against the reference SHA-256; returns their SHA-256.

    Args:
        data: the bytes of the graph file.
        path: where they came from (for the message).
        expected_sha256: the checksum to require; defaults to
            `gan_tf.names.REFERENCE_INCEPTION_SHA256`.

    Raises:
        UserError: a one-line message naming the received checksum, the expected one and
            where to get the file; or, while gan_tf pins no checksum and none is given, the
            file's checksum and how to state the one you trust.
    """
    actual = hashlib.sha256(data).hexdigest()
    pinned = names.REFERENCE_INCEPTION_SHA256
    expected = (expected_sha256 or pinned or "").strip().lower() or None
    source = (f"{names.REFERENCE_INCEPTION_FILE} from {names.REFERENCE_INCEPTION_URL}")
    if expected is None:
        if len(data) != names.REFERENCE_INCEPTION_SIZE:
            raise UserError(
                f"{path} is not the reference FID network: {len(data):,} bytes, where "
                f"{names.REFERENCE_INCEPTION_FILE} has {names.REFERENCE_INCEPTION_SIZE:,}. "
                f"Use {source}.")
        raise UserError(
            f"gan_tf pins no SHA-256 for {names.REFERENCE_INCEPTION_FILE} (none is "
            f"published; see docs/evaluation.md, 'FID that matches the papers'). {path} has "
            f"SHA-256 "
            f"{actual}: if a copy you trust has the same, pass --inception_sha256={actual}.")
    if actual != expected:
        raise UserError(
            f"{path} is not the reference FID network: its SHA-256 is {actual}, expected "
            f"{expected}. Use {source}.")
    return actual


def _import_reference(graph_def, path):
    """`(function, num_classes, num_features)`: the graph as a TF2 function from float32
    `(N, H, W, 3)` pixels in [0, 255] to `(pool_3 features (N, d), probabilities (N, C))`."""
    import tensorflow as tf

    nodes = {node.name for node in graph_def.node}
    missing = [name.split(":")[0] for name in (ReferenceInception.INPUT,
                                               ReferenceInception.FEATURES,
                                               ReferenceInception.LOGITS_MATMUL)
               if name.split(":")[0] not in nodes]
    if missing:
        raise UserError(f"{path} is not the reference FID network: it has no "
                        f"{', '.join(missing)}. Use {names.REFERENCE_INCEPTION_FILE} from "
                        f"{names.REFERENCE_INCEPTION_URL}.")

    def imported(pixels):
        # The batch replaces ExpandDims:0 (a batch of one decoded JPEG in the file), so every
        # shape below it is inferred for a batch of any size.
        tf.compat.v1.import_graph_def(graph_def, input_map={ReferenceInception.INPUT: pixels},
                                      name="reference")
        graph = tf.compat.v1.get_default_graph()
        pool = graph.get_tensor_by_name("reference/" + ReferenceInception.FEATURES)
        weights = graph.get_operation_by_name(
            "reference/" + ReferenceInception.LOGITS_MATMUL).inputs[1]
        features = tf.reshape(pool, [-1, pool.shape[-1]])
        return features, tf.nn.softmax(tf.matmul(features, weights))

    wrapped = tf.compat.v1.wrap_function(
        imported, [tf.TensorSpec([None, None, None, 3], tf.float32, name="pixels")])
    # Only what lies between the pixels and the outputs: the graph's JPEG decoder goes.
    function = wrapped.prune(wrapped.inputs, wrapped.outputs)
    features, probabilities = wrapped.outputs
    return function, int(probabilities.shape[-1]), int(features.shape[-1])


class KerasInceptionExtractor(Extractor):
    """Keras InceptionV3 pool features (2,048-d) and, with the top, ImageNet probabilities.

    Not the reference FID network: keras.applications' ImageNet weights differ from the
    2015-12-05 graph's, so its scores are named "FD (Keras InceptionV3 features)" and the like,
    not FID (use `ReferenceInception` for those). Images are made RGB (grey tiled) and resized
    to 299x299 with antialiased bicubic interpolation, then fed in [-1, 1] (Inception-v3's own
    input range).

    Args:
        weights: a weights file (.h5 with or without the top), None to look in the Keras
            cache (`~/.keras/models/`), or "random" for untrained weights (tests only: the
            scores then mean nothing).
    """

    name = "keras_inception"
    batch_size = 16  # 299x299 activations: about 3 GB of memory at 16, 9 GB at 64

    def __init__(self, weights=None):
        import keras

        path = weights if weights not in (None, "random") else None
        if weights is None:
            path = find_inception_weights()
            if path is None:
                folder = os.path.join(os.path.expanduser("~"), ".keras", "models")
                raise UserError(
                    "No Keras Inception-v3 weights on disk. Put ImageNet weights in "
                    f"{folder}/{KERAS_INCEPTION_FILES[0]} (or the _notop file), or pass "
                    "--inception_weights=PATH; or use --extractor=classifier (offline "
                    "default).")
        if path is not None and not os.path.isfile(path):
            raise invalid("inception_weights", path, "the path of an InceptionV3 .h5 file")
        include_top = path is None or "notop" not in os.path.basename(path)
        base = keras.applications.InceptionV3(include_top=include_top, weights=None,
                                              input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
                                              pooling=None if include_top else "avg")
        if path is not None:
            try:
                base.load_weights(path)
            except (OSError, ValueError) as error:
                raise UserError(f"Cannot load Inception-v3 weights from {path}: {error}. "
                                "Pass the Keras InceptionV3 ImageNet .h5 file.") from None
        if include_top:
            pool = base.get_layer("avg_pool").output
            self.model = keras.Model(base.inputs, [pool, base.outputs[0]])
            self.num_classes = int(base.outputs[0].shape[-1])
        else:
            self.model = keras.Model(base.inputs, [base.outputs[0]])
            self.num_classes = None
        self.weights = path or "random"

    @property
    def metric_names(self):
        kind = "keras_inception_random" if self.weights == "random" else "keras_inception"
        return dict(names.METRIC_NAMES[kind])

    def describe(self):
        return {**super().describe(), "weights": self.weights}

    def key(self):
        if self.weights == "random":
            return "keras_inception-random"
        return "keras_inception-" + os.path.basename(self.weights).split(".")[0][-12:]

    def _call(self, batch):
        outputs = self.model(resize_for_inception(batch), training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return outputs[0], (outputs[1] if len(outputs) > 1 else None)


def resize_for_inception(images):
    """Images in [-1, 1] -> RGB 299x299, antialiased bicubic, clipped to [-1, 1] (Keras
    InceptionV3 only; the reference graph resizes inside itself)."""
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.tile(images, [1, 1, 1, 3])
    elif images.shape[-1] != 3:
        raise invalid("images", f"images with {images.shape[-1]} channels", "1 or 3 channels")
    resized = tf.image.resize(images, [INCEPTION_SIZE, INCEPTION_SIZE], method="bicubic",
                              antialias=True)
    return tf.clip_by_value(resized, -1.0, 1.0)


def find_inception_weights():
    """The Keras InceptionV3 weights file in the Keras cache, or None."""
    folder = os.path.join(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")), "models")
    for name in KERAS_INCEPTION_FILES:
        path = os.path.join(os.path.expanduser(folder), name)
        if os.path.isfile(path):
            return path
    return None


def get_extractor(name, data=None, cache=None, inception_weights=None, inception_sha256=None):
    """The extractor called `name`: "classifier" (for `data`), "inception" (the reference
    graph, checked against `inception_sha256` or the pinned checksum) or "keras_inception"."""
    if name == "classifier":
        if data is None:
            raise UserError("The classifier extractor needs the dataset it judges.")
        return DomainClassifier.for_dataset(data, cache=cache)
    if name == "inception":
        return ReferenceInception(inception_weights, expected_sha256=inception_sha256,
                                  cache=cache)
    if name == "keras_inception":
        return KerasInceptionExtractor(inception_weights)
    raise invalid("extractor", name, f"one of {EXTRACTORS}")


def real_features(extractor, data, cache=None, max_images=10000, split="train"):
    """Features (and probabilities) of up to `max_images` real images, cached on disk.

    The images are a fixed, class-balanced choice (a function of the dataset), so every
    evaluation of a dataset compares with the same real set. Cached under
    `<cache>/statistics/<dataset fingerprint>-<split>-<extractor>.npz`.

    Returns:
        dict with "features" `(N, d)`, "probabilities" `(N, C)` or None, "labels" `(N,)` or
        None, and "indices" (which images of `data`).
    """
    check_positive_int("max_images", max_images)
    folder = os.path.join(cache_dir(cache), "statistics")
    name = f"{dataset_fingerprint(data)}-{split}-{extractor.key()}"
    path = os.path.join(folder, f"{name}-{max_images}.npz")
    if os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {
                    "features": stored["features"],
                    "probabilities": stored["probabilities"] if stored["probabilities"].size
                    else None,
                    "labels": stored["labels"] if stored["labels"].size else None,
                    "indices": stored["indices"],
                }
        except (OSError, ValueError, KeyError):
            pass  # a torn or stale file: compute it again
    indices = _real_choice(data, max_images)
    from gan_tf.data import to_float

    images = np.asarray(to_float(data.images[indices]))
    feature_array, probabilities = extractor.features_and_probabilities(images)
    labels = None if data.labels is None else data.labels[indices]
    import io

    buffer = io.BytesIO()
    np.savez(buffer, features=feature_array,
             probabilities=probabilities if probabilities is not None else np.zeros(0),
             labels=labels if labels is not None else np.zeros(0, np.int32), indices=indices)
    os.makedirs(folder, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return {"features": feature_array, "probabilities": probabilities, "labels": labels,
            "indices": indices}


def _real_choice(data, max_images):
    from gan_tf.data import subset_indices

    return subset_indices(data.labels, len(data), min(max_images, len(data)), seed=0)
