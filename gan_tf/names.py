"""Names and defaults that several modules share: the choices of each option, the dataset
prefixes, ADA's defaults. No TensorFlow and no other gan_tf import, so the model code, the data
code and the command-line config can all read them without importing one another.
"""

ARCHITECTURES = ("mlp", "dcgan", "resnet")
LOSSES = ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares")
AUGMENTATIONS = ("none", "diffaugment", "ada")
UPDATES = ("alternating", "simultaneous")
EXTRACTORS = ("classifier", "inception")
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
# Datasets given by a path: the prefix, then the path (made absolute by `TrainConfig`).
PATH_PREFIXES = (FOLDER_PREFIX, ARRAY_PREFIX)
EXPORT_FORMATS = ("savedmodel", "litert", "onnx")  # python -m gan_tf.export --format
EXPORT_QUANTIZATIONS = ("none", "dynamic_range", "float16")  # --format=litert only
