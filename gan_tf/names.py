"""Names and defaults that several modules share: the choices of each option, the dataset
prefixes, ADA's defaults. No TensorFlow and no other gan_tf import, so the model code, the data
code and the command-line config can all read them without importing one another.
"""

ARCHITECTURES = ("mlp", "dcgan", "resnet")
LOSSES = ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares")
AUGMENTATIONS = ("none", "diffaugment", "ada")
UPDATES = ("alternating", "simultaneous")
# The judges of sample quality (--extractor): the domain classifier (offline default), the
# reference FID Inception graph (scores named FID/KID/IS, comparable with papers) and Keras's
# InceptionV3 ImageNet weights (scores named FD/KD, not comparable with papers).
EXTRACTORS = ("classifier", "inception", "keras_inception")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
OPTIMIZERS = ("adam", "rmsprop")
# The distribution of the generator's input z: standard normal, or uniform on [-1, 1].
LATENT_DISTRIBUTIONS = ("normal", "uniform")
# The hidden layers' nonlinearity, where the architecture has one: D never takes a plain ReLU
# (its gradient is zero for half of every unit's inputs), G may.
DISCRIMINATOR_ACTIVATIONS = ("leaky_relu", "prelu")
GENERATOR_ACTIVATIONS = ("relu", "leaky_relu", "prelu")
# Each architecture's own generator activation (Radford et al.'s ReLU; the design note's
# LeakyReLU for the MLP; SNGAN's ReLU for the residual one), what `--generator_activation`
# left out means.
DEFAULT_GENERATOR_ACTIVATIONS = {"mlp": "leaky_relu", "dcgan": "relu", "resnet": "relu"}
# Whether D is spectrally normalized when `--spectral_norm` is left out: on for the residual
# networks (SNGAN, BigGAN), off for the others (as before the residual ones existed).
DEFAULT_SPECTRAL_NORM = {"mlp": False, "dcgan": False, "resnet": True}
MIN_EVAL_SAMPLES = 50  # fewer and the neighbour-based scores (k up to 5) mean little
ADA_TARGET = 0.6  # Karras et al. 2020: the target of E[sign(D(x_real))]
ADA_RAMP_IMAGES = 100_000  # images over which ADA's p can move from 0 to 1
EMBEDDED_DATASET = "embedded_mnist"
FOLDER_PREFIX = "folder:"
ARRAY_PREFIX = "array:"
ARRAY_EXTENSIONS = (".npz", ".npy")
# --data_cache: decoded pixels in memory when they fit (auto), always, or never (stream).
DATA_CACHES = ("auto", "memory", "stream")
# Datasets given by a path: the prefix, then the path (made absolute by `TrainConfig`).
PATH_PREFIXES = (FOLDER_PREFIX, ARRAY_PREFIX)
EXPORT_FORMATS = ("savedmodel", "litert", "onnx")  # python -m gan_tf.export --format
EXPORT_QUANTIZATIONS = ("none", "dynamic_range", "float16")  # --format=litert only

# === The reference FID network (--extractor=inception) ===
# The frozen Inception graph of 2015-12-05 that the FID authors' code (bioinf-jku/TTUR),
# openai/improved-gan's Inception Score and clean-fid's legacy_tensorflow mode use. gan_tf never
# downloads it: the user puts the file (or the archive) on disk.
REFERENCE_INCEPTION_URL = ("http://download.tensorflow.org/models/image/imagenet/"
                           "inception-2015-12-05.tgz")
REFERENCE_INCEPTION_FILE = "classify_image_graph_def.pb"  # the member of that archive
# Its size as a public listing of the archive gives it (the archive: 88,931,400 bytes).
REFERENCE_INCEPTION_SIZE = 95_673_916
# The SHA-256 of classify_image_graph_def.pb. None: no published checksum was found (the archive
# and the code that reads it publish none; see docs/evaluation.md, "FID that matches the papers"), so
# until someone pins it here from a trusted copy, the user states the checksum they trust with
# --inception_sha256. This is the one place to pin it.
REFERENCE_INCEPTION_SHA256 = None
# What each judge's scores are called in logs, report.json, report text and plots. Only the
# reference graph's are "FID", "KID" and "IS": a Frechet distance in another feature space is
# not comparable with published FIDs.
METRIC_NAMES = {
    "inception": {"fd": "FID", "kid": "KID", "is": "IS"},
    "keras_inception": {"fd": "FD (Keras InceptionV3 features)",
                        "kid": "KD (Keras InceptionV3 features)",
                        "is": "Inception-v3 score (Keras weights)"},
    "keras_inception_random": {"fd": "FD (random InceptionV3 features)",
                               "kid": "KD (random InceptionV3 features)",
                               "is": "Inception-v3 score (random weights)"},
    "classifier": {"fd": "FD (classifier features)", "kid": "KD (classifier features)",
                   "is": "Classifier score"},
}
