"""`TrainConfig`: every hyperparameter of a run, its default, validation and JSON round trip."""

import dataclasses
import json
import os
import re
from typing import Optional

from gan_tf import names as shared_names
from gan_tf.errors import (UserError, check_choice, check_non_negative, check_non_negative_int,
                           check_positive_int, check_seed, invalid)

# The shared names and defaults live in `gan_tf.names`; they stay importable from here.
from gan_tf.image_files import canonical_image_size, image_height_width
from gan_tf.names import (ADA_RAMP_IMAGES, ADA_TARGET, ARCHITECTURES,  # noqa: F401
                          ARRAY_EXTENSIONS, ARRAY_PREFIX, AUGMENTATIONS,
                          DATA_CACHES, DEFAULT_GENERATOR_ACTIVATIONS, DEFAULT_SPECTRAL_NORM,
                          DISCRIMINATOR_ACTIVATIONS,
                          EMBEDDED_DATASET, EXTRACTORS, FOLDER_PREFIX, GENERATOR_ACTIVATIONS,
                          LATENT_DISTRIBUTIONS, LOSSES, MIN_EVAL_SAMPLES, OPTIMIZERS,
                          PATH_PREFIXES, PRECISIONS, STRATEGIES, UPDATES)

# Prefixes a user may type for a path dataset by mistake (tfds names have no such prefix).
_MISTYPED_PREFIXES = ("folder", "folders", "dir", "directory", "path", "file", "array",
                      "arrays", "npz", "npy", "numpy")
MAX_IMAGE_SIZE = 1024  # --image_size above this would resize a dataset out of memory
MAX_HOLDOUT = 0.5  # a larger test split would leave the GAN less than half of the data
# Upper limits: far beyond any sensible run, low enough that a typo (an extra zero or two)
# fails at parse time instead of building a network out of memory or a run of years.
UPPER_LIMITS = {
    "latent_dim": (4096, "e.g. 100 or 128"),
    "dcgan_filters": (1024, "e.g. 64"),
    "epochs": (100_000, "e.g. 50"),
    "eval_num_samples": (100_000, "e.g. 1000; 50000 for scores comparable with papers"),
}
DATASET_CHOICES = (f"'{EMBEDDED_DATASET}', a tensorflow-datasets name such as 'mnist', "
                   f"'{FOLDER_PREFIX}PATH' (an image folder) or '{ARRAY_PREFIX}PATH' (a .npz "
                   "or .npy file)")

# Fields that may change when a run directory is reused: everything else defines the model,
# the data or the optimisation, and a resumed run must not silently mix two of them.
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "output_dir",
        "data_dir",
        "download",
        "tensorboard",
        "sample_every_n_epochs",
        "checkpoint_every_n_epochs",
        "checkpoint_every_n_steps",
        "strategy",
        "keep_checkpoints",
        "eval_every_n_epochs",
        "eval_num_samples",
        "extractor",
        "inception_weights",
        "inception_sha256",
        "data_cache",
    }
)


_SHA256 = re.compile(r"[0-9a-f]{64}")
_KERAS_WEIGHTS = (".h5", ".keras")
_REFERENCE_FILES = (".pb", ".tgz", ".tar.gz")


def inception_flags_error(extractor, inception_weights=None, inception_sha256=None):
    """The `UserError` for --inception_weights / --inception_sha256 that do not fit
    --extractor, or None. Shared by `TrainConfig` and the evaluate command; TensorFlow-free.

    Args:
        extractor: one of `EXTRACTORS`.
        inception_weights: the path given for the Inception network, or None.
        inception_sha256: the SHA-256 the user trusts for the reference graph, or None.
    """
    if inception_weights and extractor not in ("inception", "keras_inception"):
        return UserError(
            f"Invalid combination: --inception_weights with --extractor={extractor}. Add "
            "--extractor=inception (the reference FID graph) or --extractor=keras_inception "
            "(Keras weights), or drop --inception_weights.")
    if inception_sha256 is not None:
        if extractor != "inception":
            return UserError(
                f"Invalid combination: --inception_sha256 with --extractor={extractor}: it "
                "checks the reference FID graph of --extractor=inception only. Drop it.")
        if not isinstance(inception_sha256, str) or not _SHA256.fullmatch(
                inception_sha256.strip().lower()):
            return invalid("inception_sha256", inception_sha256, "64 hexadecimal digits, as "
                           f"`sha256sum {shared_names.REFERENCE_INCEPTION_FILE}` prints them")
        pinned = shared_names.REFERENCE_INCEPTION_SHA256
        if pinned and inception_sha256.strip().lower() != pinned:
            return invalid("inception_sha256", inception_sha256, f"the reference graph's "
                           f"SHA-256, which gan_tf pins as {pinned} (drop the flag)")
    lower = (inception_weights or "").lower()
    if extractor == "inception" and lower.endswith(_KERAS_WEIGHTS):
        return UserError(
            f"Invalid combination: --extractor=inception with --inception_weights="
            f"{inception_weights}, a Keras weights file: the reference FID graph is "
            f"{shared_names.REFERENCE_INCEPTION_FILE} (or its archive). Pass that, or use "
            "--extractor=keras_inception for Keras InceptionV3 weights (scores named FD/KD, "
            "not comparable with papers).")
    if extractor == "keras_inception" and lower.endswith(_REFERENCE_FILES):
        return UserError(
            f"Invalid combination: --extractor=keras_inception with --inception_weights="
            f"{inception_weights}, which looks like the reference FID graph: keras_inception "
            "reads Keras InceptionV3 .h5 weights. Use --extractor=inception for the reference "
            "graph (FID/KID/IS).")
    return None


def _field(default, help_text):
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass
class TrainConfig:
    """Everything `train_lib.train` needs; the CLI flags map onto these fields one to one.

    Each field's `metadata["help"]` is its one-line description (and the flag's help).
    """

    # Data.
    dataset: str = _field(EMBEDDED_DATASET,
                          "embedded_mnist (5,000 real digits shipped with gan_tf) | a "
                          "tensorflow-datasets image dataset, e.g. mnist | folder:PATH (image "
                          "files; one sub-folder per class gives labels) | array:PATH (.npz "
                          "with images, optional labels and class_names; or .npy of images; "
                          "uint8 [0, 255] or float [-1, 1])")
    data_dir: Optional[str] = _field(None, "tensorflow-datasets data directory")
    download: bool = _field(True, "let tensorflow-datasets download a missing dataset")
    image_size: Optional[str] = _field(None, "resize images to N x N (e.g. 64) or to "
                                             "WIDTHxHEIGHT (e.g. 128x96), each at most "
                                             f"{MAX_IMAGE_SIZE}")
    max_examples: Optional[int] = _field(None, "train on a class-balanced subset of this size")
    holdout: float = _field(0.0, "reserve this fraction of each class (e.g. 0.2) as a test "
                                 "split that nothing in the run sees, for `python -m "
                                 "gan_tf.evaluate --downstream` (0: none)")
    data_cache: str = _field("auto", "where the decoded pixels of an image folder or a "
                                     "tensorflow-datasets dataset live: auto (in memory when "
                                     "they fit in a quarter of the free memory, else "
                                     "streamed) | memory | stream (decoded from disk batch "
                                     "by batch while training; the same batches)")

    # Networks.
    architecture: str = _field("dcgan", "mlp (fully connected, Goodfellow et al. 2014) | "
                                        "dcgan (convolutional) | resnet (residual blocks, "
                                        "SNGAN/BigGAN; spectral norm on D by default)")
    latent_dim: int = _field(100, "size of the generator's input noise z")
    latent_distribution: str = _field(
        "normal", "normal (z ~ N(0, 1)) | uniform (z ~ U[-1, 1]): the noise G is trained on; "
        "sampling, the grids, generate and the export follow it")
    dcgan_filters: int = _field(64, "width of the convolutional networks: dcgan: filters of "
                                    "D's first convolution; resnet: channels of the "
                                    "full-resolution blocks, doubled at each halving (up to "
                                    "16x)")
    attention_resolution: int = _field(
        0, "resnet: a self-attention block (SAGAN) in G and D on the feature maps of this "
        "height, e.g. 16 for 32x32 images (0: none)")
    conditional: Optional[bool] = _field(
        None, "class-conditional G(z, label) and projection D(x, label). Default: on when the "
        "dataset has labels (embedded_mnist, class folders, a .npz with labels), so samples "
        "come labelled; --noconditional for an unconditional GAN")
    generator_activation: Optional[str] = _field(
        None, "relu | leaky_relu | prelu after G's hidden layers (default: the architecture's "
        "own, relu for dcgan and resnet, leaky_relu for mlp)")
    discriminator_activation: str = _field(
        "leaky_relu", "leaky_relu | prelu (a learned slope per channel or unit) after D's "
        "hidden layers")
    negative_slope: float = _field(0.2, "slope of LeakyReLU for x < 0, and PReLU's initial "
                                        "slope")

    # Objective and optimisation.
    loss: str = _field("non_saturating", "minimax (Goodfellow et al.'s saturating G loss) | "
                       "non_saturating | wasserstein | hinge | least_squares")
    gradient_penalty: float = _field(0.0, "WGAN-GP weight (0: off), e.g. 10")
    r1_penalty: float = _field(0.0, "R1 penalty gamma on real images (0: off), e.g. 10")
    mode_seeking: float = _field(
        0.0, "weight of the mode-seeking term on G (Mao et al. 2019; 0: off), e.g. 0.1: G is "
        "penalised when two latents give similar images, for more varied samples (the "
        "paper's 1 spoiled the DCGAN's digits)")
    discriminator_steps: int = _field(1, "D updates per G update")
    update: str = _field(
        "alternating", "alternating (a D step, then a G step on fresh latents) | simultaneous "
        "(one generator pass feeds both updates, as in the TensorFlow DCGAN tutorial: about a "
        "third less work per step, a slightly different game)")
    spectral_norm: Optional[bool] = _field(
        None, "spectral normalization on D's layers. Default: on for resnet, off for mlp and "
        "dcgan; --nospectral_norm turns it off for resnet")
    augment: str = _field("none", "none | diffaugment (colour, translation, cutout before D) | "
                          "ada (the same transforms, each applied with an adaptive probability)")
    ada_target: Optional[float] = _field(None, f"--augment=ada: target of E[sign(D(real))] "
                                               f"(default {ADA_TARGET})")
    ada_ramp_images: Optional[int] = _field(None, "--augment=ada: images over which p can go "
                                                  f"from 0 to 1 (default {ADA_RAMP_IMAGES})")
    ema_decay: Optional[float] = _field(None, "keep an EMA of G's weights (e.g. 0.999) and "
                                              "sample and export from it")
    epochs: int = _field(50, "passes over the training images")
    batch_size: int = _field(64, "images per step")
    optimizer: str = _field("adam", "adam | rmsprop: the optimizer of both players")
    generator_optimizer: Optional[str] = _field(None, "adam | rmsprop: G's optimizer, "
                                                      "overriding --optimizer for G")
    discriminator_optimizer: Optional[str] = _field(None, "adam | rmsprop: D's optimizer, "
                                                          "overriding --optimizer for D")
    generator_learning_rate: float = _field(2e-4, "learning rate of G's optimizer")
    discriminator_learning_rate: float = _field(2e-4, "learning rate of D's optimizer")
    beta_1: float = _field(0.5, "Adam's beta_1, for each player using Adam")
    beta_2: float = _field(0.999, "Adam's beta_2, for each player using Adam")
    rho: float = _field(0.9, "RMSprop's decay of its squared-gradient average, for each player "
                             "using RMSprop")
    momentum: float = _field(0.0, "RMSprop's momentum, for each player using RMSprop")
    seed: int = _field(0, "seeds weights, data order and latents: same seed, same run")
    precision: str = _field("float32", "float32 | mixed_bfloat16 (CPUs with AVX-512 BF16, "
                                       "TPUs, recent GPUs) | mixed_float16 (GPUs; with loss "
                                       "scaling)")
    strategy: str = _field(
        "auto", "auto (mirrored when several GPUs are visible, multi_worker when TF_CONFIG "
        "names several tasks, else default) | default (one device) | mirrored (all local "
        "GPUs) | multi_worker (the cluster in TF_CONFIG) | tpu")

    # Outputs.
    output_dir: Optional[str] = _field(None, "run directory (default runs/DATASET-ARCHITECTURE)")
    sample_every_n_epochs: int = _field(1, "write the fixed-latent sample grid every N epochs")
    checkpoint_every_n_epochs: int = _field(1, "save a checkpoint every N epochs (and at the end)")
    checkpoint_every_n_steps: int = _field(
        0, "also save a checkpoint every N batches inside an epoch, so a kill loses at most N "
        "batches (0: only at epoch ends)")
    keep_checkpoints: int = _field(3, "how many recent checkpoints to keep")
    tensorboard: bool = _field(False, "also write TensorBoard scalars and sample images")

    # Sample quality during training.
    eval_every_n_epochs: int = _field(5, "score samples (FD/KD, or FID/KID with "
                                         "--extractor=inception; class coverage) every N "
                                         "epochs and keep the best checkpoint by FD (0: off)")
    eval_num_samples: int = _field(1000, "samples per score during training")
    extractor: str = _field("classifier", "features for the scores: classifier (trained on "
                                          "the labelled dataset, offline; FD/KD) | inception "
                                          "(the reference FID graph on disk; FID/KID/IS, "
                                          "comparable with papers) | keras_inception (Keras "
                                          "InceptionV3 ImageNet weights; FD/KD, not "
                                          "comparable with papers)")
    inception_weights: Optional[str] = _field(None, "--extractor=inception: "
                                                    "classify_image_graph_def.pb or "
                                                    "inception-2015-12-05.tgz (default: "
                                                    "CACHE/classify_image_graph_def.pb); "
                                                    "--extractor=keras_inception: an "
                                                    "InceptionV3 .h5 (default: Keras cache)")
    inception_sha256: Optional[str] = _field(None, "the SHA-256 you trust for "
                                                   "--extractor=inception's graph file, needed "
                                                   "while gan_tf pins none (see docs/evaluation.md)")

    def __post_init__(self):
        # A relative image folder or array file is made absolute, so the run (and `evaluate`,
        # resumes) find it from any working directory.
        for prefix in PATH_PREFIXES:
            if (isinstance(self.dataset, str) and self.dataset.startswith(prefix)
                    and self.dataset[len(prefix):].strip()):
                path = os.path.expanduser(self.dataset[len(prefix):])
                self.dataset = prefix + os.path.abspath(path)
        # --image_size=64 and 64x64 are one size, recorded as 64 (as runs always recorded
        # it); a non-square size as "WIDTHxHEIGHT". Refused here when it is neither.
        self.image_size = canonical_image_size(self.image_size)
        # Left out, spectral normalization is the architecture's default; the record (and
        # config.json) holds what the run uses, so runs from before the default depended
        # on the architecture resume unchanged.
        if self.spectral_norm is None and isinstance(self.architecture, str):
            self.spectral_norm = DEFAULT_SPECTRAL_NORM.get(self.architecture, False)
        self.validate()

    def validate(self):
        """Raises `UserError` naming the first invalid field."""
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("loss", self.loss, LOSSES)
        check_choice("augment", self.augment, AUGMENTATIONS)
        check_choice("extractor", self.extractor, EXTRACTORS)
        check_choice("data_cache", self.data_cache, DATA_CACHES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("update", self.update, UPDATES)
        check_choice("latent_distribution", self.latent_distribution, LATENT_DISTRIBUTIONS)
        check_choice("discriminator_activation", self.discriminator_activation,
                     DISCRIMINATOR_ACTIVATIONS)
        if self.generator_activation is not None:
            check_choice("generator_activation", self.generator_activation,
                         GENERATOR_ACTIVATIONS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("generator_optimizer", "discriminator_optimizer"):
            if getattr(self, name) is not None:
                check_choice(name, getattr(self, name), OPTIMIZERS)
        check_non_negative_int("eval_every_n_epochs", self.eval_every_n_epochs,
                               "a non-negative integer (0 turns scoring off)")
        check_non_negative_int("attention_resolution", self.attention_resolution,
                               "0 (no self-attention) or a feature-map height such as 16")
        self._check_dataset()
        if self.data_cache == "stream" and (self.dataset == EMBEDDED_DATASET
                                            or self.dataset.startswith(ARRAY_PREFIX)):
            raise invalid("data_cache", self.data_cache,
                          "auto or memory with --dataset=" + self.dataset.split(":", 1)[0]
                          + ": image folders (folder:PATH) and tensorflow-datasets datasets "
                          "are streamed from disk; the embedded digits and array files are "
                          "read into memory")
        for name in ("download", "conditional", "spectral_norm", "tensorboard"):
            if name == "conditional" and self.conditional is None:
                continue  # the default: conditional when the dataset has labels
            if not isinstance(getattr(self, name), bool):
                raise invalid(name, getattr(self, name), "True or False")
        for name in ("data_dir", "output_dir", "inception_weights"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise invalid(name, value, "a path (leave the flag out for the default)")
        if self.data_dir is not None and (self.dataset == EMBEDDED_DATASET
                                          or self.dataset.startswith(PATH_PREFIXES)):
            raise invalid("data_dir", self.data_dir,
                          "no --data_dir with --dataset=" + self.dataset.split(":", 1)[0]
                          + ": it is where tensorflow-datasets keeps prepared datasets, and "
                          "only a tensorflow-datasets name such as 'mnist' reads it")
        for name in ("gradient_penalty", "r1_penalty", "mode_seeking"):
            check_non_negative(name, getattr(self, name))
        for name in ("epochs", "batch_size", "latent_dim", "dcgan_filters", "discriminator_steps",
                     "sample_every_n_epochs", "checkpoint_every_n_epochs", "keep_checkpoints",
                     "eval_num_samples"):
            check_positive_int(name, getattr(self, name))
        check_non_negative_int("checkpoint_every_n_steps", self.checkpoint_every_n_steps,
                               "a non-negative integer (0: only at epoch ends)")
        for name, (limit, example) in UPPER_LIMITS.items():
            if getattr(self, name) > limit:
                raise invalid(name, getattr(self, name), f"at most {limit:,} ({example})")
        if self.eval_num_samples < MIN_EVAL_SAMPLES:
            raise invalid("eval_num_samples", self.eval_num_samples,
                          f"at least {MIN_EVAL_SAMPLES} samples (1000 by default)")
        if self.max_examples is not None:
            check_positive_int("max_examples", self.max_examples)
        if not _is_number(self.holdout) or not 0 <= self.holdout <= MAX_HOLDOUT:
            raise invalid("holdout", self.holdout, f"a fraction from 0 (none) to {MAX_HOLDOUT}, "
                          "e.g. 0.2 to test on a fifth of each class")
        size = image_height_width(self.image_size)  # refuses what is not N or WxH
        if size is not None and max(size) > MAX_IMAGE_SIZE:
            raise invalid("image_size", self.image_size,
                          f"sizes in pixels from 1 to {MAX_IMAGE_SIZE}, e.g. 28, 64 or 128x96")
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < 1:
                raise invalid(name, value, "a number between 0 and 1, e.g. 2e-4")
        if self.ema_decay is not None and (not _is_number(self.ema_decay)
                                           or not 0 < self.ema_decay < 1):
            raise invalid("ema_decay", self.ema_decay, "a number between 0 and 1, e.g. 0.999")
        if self.ada_target is not None and (not _is_number(self.ada_target)
                                            or not 0 < self.ada_target < 1):
            raise invalid("ada_target", self.ada_target, "a number between 0 and 1, e.g. 0.6")
        if self.ada_ramp_images is not None:
            check_positive_int("ada_ramp_images", self.ada_ramp_images)
        for name in ("beta_1", "beta_2", "rho", "momentum", "negative_slope"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value < 1:
                raise invalid(name, value, "a number in [0, 1)")
        check_seed(self.seed)
        self._check_combinations()

    def _check_dataset(self):
        """Refuses a `dataset` that cannot name a source: empty, a prefix with no path, an
        array file of another type, or a path without its prefix."""
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise invalid("dataset", self.dataset, DATASET_CHOICES)
        dataset = self.dataset
        if dataset.startswith(FOLDER_PREFIX) and not dataset[len(FOLDER_PREFIX):].strip():
            raise invalid("dataset", dataset, "'folder:PATH' with the path of an image folder")
        if dataset.startswith(ARRAY_PREFIX):
            if not dataset.lower().endswith(ARRAY_EXTENSIONS):
                raise invalid("dataset", dataset, "'array:PATH' with the path of a .npz file "
                              "(images, optional labels and class_names) or a .npy file "
                              "(images)")
            return
        if dataset.startswith(FOLDER_PREFIX):
            return
        prefix = dataset.split(":", 1)[0].strip().lower() if ":" in dataset else None
        looks_like_path = (dataset.startswith(("/", "~", "./", "../", "\\"))
                           or dataset.lower().endswith(ARRAY_EXTENSIONS)
                           or prefix in _MISTYPED_PREFIXES)
        if looks_like_path:
            raise invalid("dataset", dataset, "a path written with its lower-case prefix: "
                          f"'{FOLDER_PREFIX}PATH' for an image folder, '{ARRAY_PREFIX}PATH' "
                          "for a .npz or .npy file")

    def _check_combinations(self):
        """Refuses options that contradict each other or would silently do nothing."""
        if (self.conditional is True and self.dataset.startswith(ARRAY_PREFIX)
                and self.dataset.lower().endswith(".npy")):
            raise UserError(
                f"Invalid combination: --conditional with --dataset={self.dataset}: a .npy "
                "file holds images only, and a conditional GAN needs labels. Save images and "
                "labels in a .npz (np.savez(path, images=x, labels=y)) or drop --conditional.")
        if self.loss == "wasserstein" and not (self.gradient_penalty or self.spectral_norm):
            raise UserError(
                "Invalid combination: --loss=wasserstein with no Lipschitz constraint on the "
                "critic (its scores would grow without bound). Add --gradient_penalty=10 "
                "(WGAN-GP) or --spectral_norm.")
        if self.update == "simultaneous" and self.discriminator_steps > 1:
            raise UserError(
                f"Invalid combination: --update=simultaneous with --discriminator_steps="
                f"{self.discriminator_steps}: a simultaneous update takes one D step per G step. "
                "Drop one of them.")
        if self.update == "simultaneous" and self.mode_seeking:
            raise UserError(
                f"Invalid combination: --update=simultaneous with --mode_seeking="
                f"{self.mode_seeking:g}: the mode-seeking term needs G's own batch, drawn in "
                "pairs for the same labels, which only --update=alternating has. Drop one of "
                "them.")
        if self.gradient_penalty and self.r1_penalty:
            raise UserError(
                f"Invalid combination: --gradient_penalty={self.gradient_penalty:g} and "
                f"--r1_penalty={self.r1_penalty:g}. They pull D's gradient norm toward 1 (near "
                "interpolates) and toward 0 (on real images) at once. Choose one.")
        if self.architecture == "mlp" and self.dcgan_filters != _default("dcgan_filters"):
            raise UserError(
                f"Invalid combination: --dcgan_filters={self.dcgan_filters} with "
                "--architecture=mlp; the MLP has no convolutions. Drop --dcgan_filters or use "
                "--architecture=dcgan.")
        if self.attention_resolution and self.architecture != "resnet":
            raise UserError(
                f"Invalid combination: --attention_resolution={self.attention_resolution} with "
                f"--architecture={self.architecture}; only the resnet has self-attention. Drop "
                "--attention_resolution or use --architecture=resnet.")
        if not self.eval_every_n_epochs and (self.extractor != _default("extractor")
                                             or self.eval_num_samples
                                             != _default("eval_num_samples")):
            raise UserError(
                "Invalid combination: --eval_every_n_epochs=0 turns scoring off, so "
                "--extractor and --eval_num_samples would do nothing. Drop them or set "
                "--eval_every_n_epochs.")
        problem = inception_flags_error(self.extractor, self.inception_weights,
                                        self.inception_sha256)
        if problem:
            raise problem
        self._check_optimizer_combinations()
        if self.augment != "ada":
            for name in ("ada_target", "ada_ramp_images"):
                if getattr(self, name) is not None:
                    raise UserError(
                        f"Invalid combination: --{name}={getattr(self, name)} with "
                        f"--augment={self.augment}; it only acts with --augment=ada. Add "
                        f"--augment=ada or drop --{name}.")

    def _check_optimizer_combinations(self):
        """Refuses optimizer flags that no player's optimizer would read."""
        if (self.generator_optimizer is not None and self.discriminator_optimizer is not None
                and self.optimizer != _default("optimizer")):
            raise UserError(
                f"Invalid combination: --optimizer={self.optimizer} with both "
                f"--generator_optimizer={self.generator_optimizer} and "
                f"--discriminator_optimizer={self.discriminator_optimizer}: the per-player "
                "flags override it for both players, so it would do nothing. Drop --optimizer "
                "or one of the per-player flags.")
        used = set(self.player_optimizers)
        for optimizer, names in (("adam", ("beta_1", "beta_2")), ("rmsprop", ("rho",
                                                                               "momentum"))):
            changed = [name for name in names if getattr(self, name) != _default(name)]
            if changed and optimizer not in used:
                flags_text = " ".join(f"--{name}={getattr(self, name):g}" for name in changed)
                raise UserError(
                    f"Invalid combination: {flags_text} with no player using {optimizer} (G: "
                    f"{self.player_optimizers[0]}, D: {self.player_optimizers[1]}); only "
                    f"{optimizer} reads it. Drop it, or choose {optimizer} with --optimizer="
                    f"{optimizer} (or --generator_optimizer / --discriminator_optimizer).")

    @property
    def player_optimizers(self):
        """(G's optimizer, D's optimizer): each per-player flag, else `optimizer`."""
        return (self.generator_optimizer or self.optimizer,
                self.discriminator_optimizer or self.optimizer)

    @property
    def effective_generator_activation(self):
        """G's hidden activation: `generator_activation`, else the architecture's own."""
        return self.generator_activation or DEFAULT_GENERATOR_ACTIVATIONS[self.architecture]

    @property
    def effective_ada_target(self):
        return ADA_TARGET if self.ada_target is None else self.ada_target

    @property
    def effective_ada_ramp_images(self):
        return ADA_RAMP_IMAGES if self.ada_ramp_images is None else self.ada_ramp_images

    def resolved_output_dir(self):
        """The run directory: `output_dir`, or `runs/<dataset>-<architecture>`."""
        if self.output_dir:
            return os.path.abspath(os.path.expanduser(self.output_dir))
        slug = re.sub(r"[^A-Za-z0-9_.]+", "_", self.dataset).strip("_")
        return os.path.abspath(os.path.join("runs", f"{slug}-{self.architecture}"))

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(
                f"Unknown TrainConfig fields: {unknown}. Expected only: {sorted(known)}."
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def differences(self, other):
        """Fields (other than `RESUMABLE_CHANGES`) whose values differ: {name: (self, other)}."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {
            name: (mine[name], theirs.get(name))
            for name in mine
            if name not in RESUMABLE_CHANGES and mine[name] != theirs.get(name)
        }


def check_export_request(format, quantization="none"):
    """UserError for an unknown export format, or a quantization the format cannot take.

    Here, TensorFlow-free, so `python -m gan_tf.export` refuses a bad flag before importing
    TensorFlow; `gan_tf.export_lib.export_model` checks the same.
    """
    from gan_tf.names import EXPORT_FORMATS, EXPORT_QUANTIZATIONS

    check_choice("format", format, EXPORT_FORMATS)
    check_choice("quantization", quantization, EXPORT_QUANTIZATIONS)
    if quantization != "none" and format != "litert":
        raise UserError(f"Invalid combination: --quantization={quantization} with "
                        f"--format={format}. Quantized variants are a LiteRT option; use "
                        "--format=litert or drop --quantization.")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _default(name):
    """The default of TrainConfig's field `name` (checks compare with it, never a copy)."""
    return next(field.default for field in dataclasses.fields(TrainConfig)
                if field.name == name)
