"""`GAN(keras.Model)`: a generator and a discriminator trained against each other by `fit`."""

import keras
import numpy as np
import tensorflow as tf

from gan_tf import augment as augment_lib
from gan_tf import names
from gan_tf import losses as losses_lib
from gan_tf.errors import (UserError, check_choice, check_non_negative, check_positive_int,
                           first_line, invalid)
from gan_tf.messages import get_logger

_logger = get_logger(__name__)


def sample_latents(num_images, latent_dim, seed, distribution="normal"):
    """Latents `(num_images, latent_dim)`, a pure function of `seed`.

    `distribution` is "normal" (standard normal) or "uniform" (U[-1, 1]): that of the
    generator (`latent_distribution_of`). The same formula is traced into the exported
    generator's `generate` signature, so `GAN.generate(n, seed)` and the SavedModel's
    `generate(n, seed)` give the same images.
    """
    check_choice("latent_distribution", distribution, names.LATENT_DISTRIBUTIONS)
    seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    if distribution == "uniform":
        return tf.random.stateless_uniform([num_images, latent_dim], seed=seed, minval=-1.0,
                                           maxval=1.0)
    return tf.random.stateless_normal([num_images, latent_dim], seed=seed)


def numpy_latents(rng, shape, distribution="normal"):
    """float32 latents of `shape` from the numpy Generator `rng`, in `distribution`.

    For the fixed latents that callbacks draw once (the sample grid, the collapse check).
    """
    check_choice("latent_distribution", distribution, names.LATENT_DISTRIBUTIONS)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def latent_distribution_of(generator):
    """The distribution of z the generator is meant for: "normal" or "uniform".

    gan_tf's generators record it in their config (`latent_distribution`); any other model
    (e.g. your own Keras generator) is taken as "normal" unless it has a
    `latent_distribution` attribute.
    """
    distribution = getattr(generator, "latent_distribution", None) or "normal"
    check_choice("latent_distribution", distribution, names.LATENT_DISTRIBUTIONS)
    return distribution


# The random streams of a training step, for `training_draw`.
D_LATENTS, G_LATENTS, PENALTY_MIX, AUGMENTATION = range(4)


def training_draw(seed, stream, step, shape, uniform=False):
    """The random values a GAN with `seed` draws for `stream` at optimizer step `step`.

    Every random number of gan_tf's training step comes from this pure function of
    (seed, stream, step), so same-seed runs are identical and a resumed run continues
    the same draws. Streams: `D_LATENTS` (D's latents at D-optimizer step `step`),
    `G_LATENTS` (G's latents at G-optimizer step `step`), `PENALTY_MIX` (WGAN-GP's
    interpolation coefficients) and `AUGMENTATION` (DiffAugment/ADA draws). Standard normal,
    or U[0, 1) with `uniform`, of `shape` (the global batch first; each replica of a
    distributed run takes its slice). The latent streams of a generator with uniform
    latents take the U[0, 1) draw to U[-1, 1) (`GAN._draw_latents`).
    """
    key = tf.stack([tf.constant(seed * 4 + stream, tf.int64), tf.cast(step, tf.int64)])
    draw = tf.random.stateless_uniform if uniform else tf.random.stateless_normal
    return draw(shape, seed=key)


def call_generator(generator, latents, labels=None, training=False):
    """G(z), or G([z, y]) for a class-conditional generator given `labels` (cast to int32).

    The one place that knows how gan_tf's generators take their inputs: `[latents, labels]`
    when they have `num_classes`, the latents alone otherwise.
    """
    if labels is None:
        return generator(latents, training=training)
    return generator([latents, tf.cast(labels, tf.int32)], training=training)


def check_sampling_options(sample_fn, latent_dim, num_classes):
    """Checks how a callback is told to sample a generator that is not gan_tf's.

    `sample_fn(latents, labels) -> images` calls a generator another way (e.g. one-hot labels
    inside the latent vector) and needs `latent_dim`, the size of the latents it takes
    without any label slots; `num_classes` asks for balanced labels.
    """
    if sample_fn is not None and not callable(sample_fn):
        raise invalid("sample_fn", sample_fn, "a callable sample_fn(latents, labels)")
    if sample_fn is not None and latent_dim is None:
        raise invalid("latent_dim", None, "the size of the latents sample_fn takes "
                      "(without any label slots), e.g. latent_dim=128")
    if latent_dim is not None:
        check_positive_int("latent_dim", latent_dim)
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)


def call_sampler(generator, sample_fn, latents, labels=None):
    """`sample_fn(latents, labels)` when a callback was given one, else `call_generator`."""
    if sample_fn is not None:
        return sample_fn(latents, None if labels is None else tf.constant(labels))
    return call_generator(generator, latents, labels)


def latent_dim_of(generator, latent_dim=None):
    """The generator's latent size: `latent_dim` if given, else read off its latents input.

    The latents input is the generator's only `keras.Input`, or the first of `[latents,
    labels]` for a class-conditional generator.
    """
    if latent_dim is not None:
        check_positive_int("latent_dim", latent_dim)
        return latent_dim
    try:
        inputs = generator.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs and len(inputs) in (1, 2) and len(inputs[0].shape) == 2:
        return int(inputs[0].shape[-1])
    raise UserError(
        f"Cannot tell the latent size of generator {getattr(generator, 'name', generator)!r}: "
        "it has no (batch, latent_dim) keras.Input. Pass latent_dim=N.")


def num_classes_of(model):
    """The number of classes of a class-conditional gan_tf network, or None if unconditional.

    A conditional network has a `num_classes` attribute and takes `[inputs, labels]`.
    """
    num_classes = getattr(model, "num_classes", None)
    return int(num_classes) if num_classes else None


def class_labels(num_images, num_classes, labels=None):
    """int32 labels for `num_images` conditional samples.

    Args:
        num_images: how many images.
        num_classes: classes of the generator.
        labels: None (balanced: 0, 1, ..., num_classes - 1, 0, 1, ...), one class index for
            all images, or a sequence of `num_images` class indices.
    """
    if labels is None:
        return np.arange(num_images, dtype=np.int32) % num_classes
    values = np.asarray(labels)
    if values.ndim == 0:
        values = np.full([num_images], values)
    if (values.ndim != 1 or values.shape[0] != num_images
            or not np.issubdtype(values.dtype, np.integer)
            or (values.size and (values.min() < 0 or values.max() >= num_classes))):
        raise invalid("labels", labels if np.size(labels) <= 10 else f"array of shape "
                      f"{values.shape} and dtype {values.dtype}",
                      f"None, one class index or {num_images} class indices in "
                      f"[0, {num_classes})")
    return values.astype(np.int32)


# Real images beyond this (in absolute value) are not in [-1, 1] (a little slack for resizing
# overshoot): most likely [0, 255] pixels converted to float without scaling.
_LARGEST_REAL_PIXEL = 1.5
_CONVERT_HINT = ("Convert pixels with x / 127.5 - 1 (gan_tf.data.to_float does it for uint8 "
                 "images), as the generator's tanh makes images in [-1, 1].")


def _real_images_checks(images):
    """The assertions a training batch must pass: float images in [-1, 1].

    The dtype is known when `train_step` is traced: integer pixels are refused then, with
    `UserError`. The range is asserted on every batch (a maximum over the batch, negligible
    next to a step), except on TPUs, which run no assertions (an empty list there).
    """
    if not images.dtype.is_floating:
        raise UserError(f"GAN.fit received {images.dtype.name} images. Expected float images "
                        f"in [-1, 1]. {_CONVERT_HINT}")
    if isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy):
        return []
    largest = tf.reduce_max(tf.abs(tf.cast(images, tf.float32)))
    return [tf.debugging.assert_less_equal(
        largest, _LARGEST_REAL_PIXEL,
        message=f"GAN.fit received images with values beyond [-1, 1] (pixels in [0, 255]?). "
                f"Expected float images in [-1, 1]. {_CONVERT_HINT} Largest |value|")]


def _inner_optimizer(optimizer):
    """The optimizer that does the updates (the wrapped one, for a LossScaleOptimizer)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def moving_averages(optimizer):
    """`{id(variable): its moving average}` of a Keras optimizer made with `use_ema=True`.

    Keras 3 keeps the averages in private fields (`_trainable_variables` and
    `_model_variables_moving_average` in Keras 3.15). This is the one place
    gan_tf reads them (the other private Keras member it relies on is the
    `GAN._maybe_symbolic_build` override); setup.cfg caps Keras at the versions tested.
    """
    return {id(variable): average for variable, average in zip(
        optimizer._trainable_variables, optimizer._model_variables_moving_average)}


def _paired_labels(labels):
    """`labels` with its second half replaced by its first: pair i (images i and i + n // 2)
    shares a label, as `losses.mode_seeking_penalty` expects. An odd last label stays."""
    half = tf.shape(labels)[0] // 2
    return tf.concat([labels[:half], labels[:half], labels[2 * half:]], axis=0)


def _known_shape(shape):
    """`shape` (without the batch) as a tuple, or None when Keras does not know it."""
    try:
        return tuple(None if d is None else int(d) for d in shape[1:])
    except (TypeError, ValueError):
        return None


def _image_shapes(generator, discriminator):
    """`(generated image shape, discriminator image input shape)`, each None if unknown."""
    try:
        made = generator.output_shape
    except (AttributeError, ValueError):
        made = None
    try:
        inputs = discriminator.inputs
    except (AttributeError, ValueError):
        inputs = None
    taken = inputs[0].shape if inputs else None
    return (_known_shape(made) if made is not None and not isinstance(made, list) else None,
            _known_shape(taken) if taken is not None else None)


def _shapes_differ(made, taken):
    return len(made) != len(taken) or any(
        a is not None and b is not None and a != b for a, b in zip(made, taken))


_PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def probability_output(discriminator):
    """The name of the activation that `discriminator`'s output ends in when it is sigmoid or
    softmax (an output that looks like a probability), else None."""
    layers = getattr(discriminator, "layers", None)
    if not layers:
        return None
    last = layers[-1]
    if isinstance(last, keras.Model):
        return probability_output(last)
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None) or (
        activation if isinstance(activation, str) else None)
    return name if name in _PROBABILITY_ACTIVATIONS else None


def check_networks(generator, discriminator, num_classes):
    """Raises UserError when G's images cannot go into D, or the conditional convention of
    the two differs; warns when D's output looks like a probability (gan_tf's losses take
    logits)."""
    g_inputs = len(getattr(generator, "inputs", None) or []) if _has_inputs(generator) else 0
    if num_classes and g_inputs == 1:
        raise UserError(
            f"GAN: the generator has num_classes={num_classes} but one input. A conditional "
            "gan_tf generator takes [latents, labels] (two keras.Inputs: (latent_dim,) and "
            "() int labels). Give it a labels input, or drop num_classes to train it "
            "unconditionally.")
    if not num_classes and g_inputs == 2:
        raise UserError(
            "GAN: the generator takes two inputs but has no num_classes attribute. A "
            "conditional generator takes [latents, labels] and has num_classes (and so "
            "does its discriminator); set num_classes on both, or give the generator one "
            "latents input.")
    made, taken = _image_shapes(generator, discriminator)
    if made and taken and _shapes_differ(made, taken):
        raise UserError(
            f"GAN: the generator makes images of shape {made}, but the discriminator takes "
            f"images of shape {taken}. Build both for the same image shape (gan_tf's "
            "networks: the same image_shape=...), or put a resizing layer at the end of the "
            "generator.")
    activation = probability_output(discriminator)
    if activation:
        _logger.warning(
            f"Warning: the discriminator's output ends in a {activation} activation, but "
            "GAN's losses (and its real/fake accuracies) take logits: the losses would "
            "apply a sigmoid twice and the accuracies read 1.0 and 0.0. Remove the "
            "activation from its last layer (e.g. Dense(1) instead of "
            f"Dense(1, activation=\"{activation}\")).")


def _has_inputs(model):
    try:
        return bool(model.inputs)
    except (AttributeError, ValueError):
        return False


def players_from_config(cls, config, custom_objects=None):
    """`cls(**config)` with its serialized `generator` and `discriminator` deserialized: the
    `from_config` of a model that holds two players (the GAN, the GAN imputer)."""
    config = dict(config)
    for key in ("generator", "discriminator"):
        config[key] = keras.saving.deserialize_keras_object(
            config[key], custom_objects=custom_objects)
    return cls(**config)


def optimizers_config(model):
    """The two players' optimizers of a compiled `model`, serialized for its compile config."""
    return {"generator_optimizer": keras.saving.serialize_keras_object(model.generator_optimizer),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                model.discriminator_optimizer)}


class _Holder:
    """A plain box: Keras does not track a model kept in it as a sub-layer of the GAN."""

    def __init__(self):
        self.model = None


def _clone(model, latent_dim):
    """A new, built model of the same architecture as `model` (weights not copied)."""
    try:
        clone = type(model).from_config(model.get_config())
    except Exception:  # noqa: BLE001 - fall back to Keras's generic cloning
        clone = keras.models.clone_model(model)
    if not clone.built:
        latents = tf.zeros((1, latent_dim))
        clone([latents, tf.zeros((1,), tf.int32)] if num_classes_of(model) else latents)
    return clone


def fit_logs(logs):
    """A `train_step`'s logs as `fit` can take them under any strategy.

    Keras 3.15's fit concatenates the workers' logs under MultiWorkerMirroredStrategy and
    fails on scalars ("Invalid reduction dimension 0", keras-team/keras#20585): one-element
    vectors work there; elsewhere the logs are returned as they are.
    """
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


@keras.saving.register_keras_serializable(package="gan_tf")
class GAN(keras.Model):
    """A generator and a discriminator trained with the adversarial objective by `fit`.

    Each `train_step` makes one discriminator update (on a real batch and a fake batch) and
    then one generator update, each with its own tape and optimizer. Latent vectors are drawn
    statelessly from `(seed, optimizer step, replica)`, so they are saved with the optimizers'
    step counters in any checkpoint, differ between replicas, and a run under a
    `tf.distribute` strategy sees the same global batch of latents as a single-device run.
    Losses are divided by the number of replicas before the gradients are taken: replicas'
    gradients are summed, so the update is that of the global-batch mean. Latents follow
    the generator's `latent_distribution` (standard normal, or U[-1, 1] for a generator made
    with `latent_distribution="uniform"`; see `latent_distribution_of`), in training and in
    `generate`.

    Class-conditional training: with a generator and a discriminator that have `num_classes`
    (e.g. `DCGANGenerator(num_classes=10)`), the data must be `(images, labels)` batches; G
    draws each fake image for the label of the real image at the same batch position, so
    generated classes follow the data's class frequencies, and D judges `[image, label]`
    pairs.

    Example:
    ```python
    gan = GAN(MLPGenerator(), MLPDiscriminator())
    gan.compile(loss="non_saturating")
    gan.fit(images_dataset, epochs=5)
    samples = gan.generate(16, seed=1)  # numpy, (16, 28, 28, 1) in [-1, 1]

    conditional = GAN(DCGANGenerator(num_classes=10), DCGANDiscriminator(num_classes=10))
    conditional.compile()
    conditional.fit(images_and_labels_dataset, epochs=5)
    sevens = conditional.generate(16, labels=7)
    ```

    Args:
        generator: a `keras.Model` from `(batch, latent_dim)` latents to images in [-1, 1].
        discriminator: a `keras.Model` from images to one logit per image.
        seed: seed of the latent vectors drawn during training. Defaults to 0.
        latent_dim: size of the generator's input. Defaults to the size of its
            `keras.Input`; needed for a generator built without one.
    """

    def __init__(self, generator, discriminator, seed=0, latent_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self.latent_dim = latent_dim_of(generator, latent_dim)
        self.latent_distribution = latent_distribution_of(generator)
        self.num_classes = num_classes_of(generator)
        if num_classes_of(discriminator) != self.num_classes:
            raise invalid("discriminator", f"a discriminator with num_classes="
                          f"{num_classes_of(discriminator)}",
                          f"num_classes={self.num_classes}, the generator's")
        self.check_networks(generator, discriminator)
        if not (generator.built and discriminator.built):
            # A network defined without keras.Input (e.g. a Sequential of layers) has no
            # variables yet; one forward pass creates them, so compile can build optimizers.
            labels = tf.zeros((1,), tf.int32)
            try:
                images = self._generate(tf.zeros((1, self.latent_dim)), labels)
            except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
                raise UserError(
                    f"GAN: the generator cannot be called on latents of shape (1, "
                    f"{self.latent_dim}){' and labels' * bool(self.num_classes)}: "
                    f"{first_line(error)} Pass the generator's latent_dim=..., or a "
                    "generator that takes (batch, latent_dim) latents.") from None
            try:
                self._discriminate(images, labels)
            except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
                raise UserError(
                    f"GAN: the discriminator cannot take the generator's images of shape "
                    f"{tuple(images.shape[1:])}: {first_line(error)} Build both for the same "
                    "image shape.") from None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")
        self.gradient_penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.r1_penalty_tracker = keras.metrics.Mean(name="r1_penalty")
        self.mode_seeking_tracker = keras.metrics.Mean(name="mode_seeking")
        # Global norms of each player's gradients: a NaN/inf gradient shows up in the logs of
        # the very step (StopOnNonFinite stops there), and their size helps diagnose training.
        self.d_grad_norm_tracker = keras.metrics.Mean(name="d_grad_norm")
        self.g_grad_norm_tracker = keras.metrics.Mean(name="g_grad_norm")
        self.gradient_penalty_weight = 0.0
        self.r1_penalty_weight = 0.0
        self.mode_seeking_weight = 0.0
        self.discriminator_steps = 1
        self.update = "alternating"
        self.augment = "none"
        self.ada_target = names.ADA_TARGET
        self.ada_ramp_images = names.ADA_RAMP_IMAGES
        # ADA's augmentation probability p: a variable, so checkpoints hold it. Every replica
        # computes the same update from all-reduced statistics, so the first one's is kept.
        # A Keras weight of the GAN, so .keras files keep it too.
        self.ada_p = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="ada_p", aggregation="only_first_replica")
        self._averaged = _Holder()
        # The networks are built from keras.Input; without this, save_weights and friends
        # refuse the wrapper after fit (Keras 3.15 leaves a subclassed wrapper unbuilt).
        self.built = True


    def check_networks(self, generator, discriminator):
        """Refuses networks that do not fit together (raises `UserError`) and warns on a
        discriminator that outputs a probability; called once, at construction.

        The image GAN's conventions (`check_networks`); a subclass whose networks follow other
        conventions (e.g. `gan_tf.tables.model.TableGAN`: rows and a conditional vector)
        overrides it with checks of its own.
        """
        check_networks(generator, discriminator, self.num_classes)

    def compile(self, generator_optimizer=None, discriminator_optimizer=None,
                loss="non_saturating", gradient_penalty=0.0, r1_penalty=0.0,
                discriminator_steps=1, augment="none", ada_target=names.ADA_TARGET,
                ada_ramp_images=names.ADA_RAMP_IMAGES, update="alternating", mode_seeking=0.0,
                **kwargs):
        """Sets both optimizers (default Adam(2e-4, beta_1=0.5)), the loss and D's regularizers.

        Args:
            generator_optimizer: optimizer of G. Defaults to Adam(2e-4, beta_1=0.5).
            discriminator_optimizer: optimizer of D. Defaults to Adam(2e-4, beta_1=0.5).
            loss: a name from `gan_tf.losses`: "minimax", "non_saturating", "wasserstein",
                "hinge" or "least_squares".
            gradient_penalty: weight of the WGAN-GP penalty added to D's loss (0: off).
            r1_penalty: gamma of the R1 penalty on real images added to D's loss (0: off).
            discriminator_steps: D updates per G update, each on the step's real batch with
                fresh latents. Defaults to 1.
            augment: "none", "diffaugment" or "ada": D sees real and generated images through
                the same kind of random differentiable transformation (`gan_tf.augment`), in
                the D and the G steps. "diffaugment" always applies colour, translation and
                cutout; "ada" applies flips, rotations, translation, colour and cutout, each
                with probability p (`ada_p`, starting at 0), raised when D's real outputs
                are positive more often than `ada_target` and lowered otherwise. Penalties
                use the un-augmented images.
            ada_target: with "ada", the target of `E[sign(D(x_real))]`. Defaults to 0.6.
            ada_ramp_images: with "ada", images over which p can move from 0 to 1.
                Defaults to 100,000.
            update: "alternating" (default): a D step on a real and a generated batch, then a
                G step on freshly generated images, as in Goodfellow et al.'s algorithm.
                "simultaneous": one generator pass feeds both updates, D's and G's gradients
                computed from the same forward pass (the TensorFlow DCGAN tutorial's step):
                about a third less work per step, a slightly different game. Needs
                `discriminator_steps=1`.
            mode_seeking: weight of the mode-seeking term added to G's loss (0: off;
                Mao et al. 2019 use 1; 0.1 measured better for the DCGAN on digits, 1 spoiled
                its samples: BUILD_NOTES). G's batch is drawn in two halves for the same labels,
                and G is penalised when two latents give similar images
                (`losses.mode_seeking_penalty`): more varied samples, especially for a
                conditional G with few images per class. Needs `update="alternating"`.
            **kwargs: passed to `keras.Model.compile` (e.g. `steps_per_execution`).
        """
        self.generator_loss_fn, self.discriminator_loss_fn = losses_lib.get(loss)
        self.loss_name = loss
        self.decision_threshold = losses_lib.decision_threshold(loss)
        check_non_negative("gradient_penalty", gradient_penalty)
        check_non_negative("r1_penalty", r1_penalty)
        check_non_negative("mode_seeking", mode_seeking)
        check_positive_int("discriminator_steps", discriminator_steps)
        check_choice("update", update, names.UPDATES)
        if update == "simultaneous" and discriminator_steps != 1:
            raise invalid("update", update, "'alternating' when discriminator_steps > 1 "
                          "(a simultaneous update takes one D step per G step)")
        if update == "simultaneous" and mode_seeking:
            raise invalid("update", update, "'alternating' with mode_seeking (the term "
                          "needs G's own batch, drawn in pairs for the same labels)")
        self.update = update
        check_choice("augment", augment, names.AUGMENTATIONS)
        self.augment = augment
        if not 0 < ada_target < 1:
            raise invalid("ada_target", ada_target, "a number between 0 and 1, e.g. 0.6")
        check_positive_int("ada_ramp_images", ada_ramp_images)
        self.ada_target = float(ada_target)
        self.ada_ramp_images = int(ada_ramp_images)
        self.gradient_penalty_weight = float(gradient_penalty)
        self.r1_penalty_weight = float(r1_penalty)
        self.mode_seeking_weight = float(mode_seeking)
        self.discriminator_steps = discriminator_steps
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(
            2e-4, beta_1=0.5)
        if self.generator_optimizer is self.discriminator_optimizer:
            raise invalid("discriminator_optimizer", "the generator's optimizer",
                          "a separate optimizer instance for each network")
        # optimizer=None: Keras would otherwise build an unused default optimizer over every
        # variable and save it in every checkpoint (measured with Keras 3.15).
        super().compile(optimizer=None, **kwargs)
        # Built now, so checkpoint restores fill their slots instead of skipping them.
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras's fit builds a model made in a strategy scope from a first batch, MEAN-reduced
        # across replicas; under MultiWorkerMirroredStrategy that reduce fails on an eager
        # batch (Keras 3.15). The GAN needs no such build: its networks come from keras.Input
        # and compile() builds both optimizers, as in a run without a strategy.
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def metrics(self):
        metrics = [self.d_loss_tracker, self.g_loss_tracker, self.real_accuracy_tracker,
                   self.fake_accuracy_tracker]
        if self.gradient_penalty_weight:
            metrics.append(self.gradient_penalty_tracker)
        if self.r1_penalty_weight:
            metrics.append(self.r1_penalty_tracker)
        if self.mode_seeking_weight:
            metrics.append(self.mode_seeking_tracker)
        if self._tracks_gradients():
            metrics += [self.d_grad_norm_tracker, self.g_grad_norm_tracker]
        return metrics

    def _tracks_gradients(self):
        """False under loss scaling, whose overflowing steps are expected and skipped."""
        optimizer = getattr(self, "generator_optimizer", None)
        return optimizer is not None and _inner_optimizer(optimizer) is optimizer

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _generate(self, latents, labels, training=False, generator=None):
        """G(z), or G(z, y) when conditional."""
        generator = self.generator if generator is None else generator
        return call_generator(generator, latents, labels if self.num_classes else None,
                              training)

    def _discriminate(self, images, labels, training=False):
        """D(x), or D(x, y) when conditional."""
        if self.num_classes:
            return self.discriminator([images, labels], training=training)
        return self.discriminator(images, training=training)

    def _critic(self, labels):
        """D as a function of images alone (for the penalties), labels bound when conditional."""
        if not self.num_classes:
            return self.discriminator
        return lambda images, training=True: self._discriminate(images, labels, training)

    def train_step(self, data):
        if isinstance(data, (tuple, list)):
            real_images, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real_images, labels = data, None
        if self.num_classes:
            if labels is None:
                raise UserError("This GAN is class-conditional (num_classes="
                                f"{self.num_classes}) but the data has no labels. Pass "
                                "(images, labels) batches, or use unconditional networks.")
            labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        else:
            labels = None
        # Nothing of the step runs (no player updates) on a batch that fails the check.
        with tf.control_dependencies(_real_images_checks(real_images)):
            real_logits, fake_logits, g_loss = self._update_players(real_images, labels)
        self.g_loss_tracker.update_state(g_loss)
        threshold = self.decision_threshold
        self.real_accuracy_tracker.update_state(tf.cast(real_logits > threshold, tf.float32))
        self.fake_accuracy_tracker.update_state(tf.cast(fake_logits <= threshold, tf.float32))
        logs = {metric.name: metric.result() for metric in self.metrics}
        if self.augment == "ada":
            logs["ada_p"] = tf.identity(self.ada_p)
        return fit_logs(logs)

    def _update_players(self, real_images, labels):
        """The step's updates of D and G; returns D's real and fake logits and G's loss."""
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if self.update == "simultaneous":
            return self._simultaneous_step(real_images, labels, batch_size, replicas)
        return self._alternating_step(real_images, labels, batch_size, replicas)

    def _discriminator_loss(self, real_images, fake_images, labels, step, batch_size):
        """D's loss on a real and a generated batch (penalties added), and D's logits."""
        seen_real, seen_fake = self._augment_pair(real_images, fake_images, step)
        real_logits = self._discriminate(seen_real, labels, training=True)
        fake_logits = self._discriminate(seen_fake, labels, training=True)
        d_loss = self.discriminator_loss_fn(real_logits, fake_logits)
        if self.augment == "ada":
            self._adapt_augmentation(real_logits)
        total_d_loss = d_loss
        if self.gradient_penalty_weight:
            interpolation = self._draw(batch_size, [], step, PENALTY_MIX, uniform=True)
            penalty = losses_lib.gradient_penalty(
                self._critic(labels), real_images, fake_images, interpolation)
            total_d_loss += self.gradient_penalty_weight * penalty
            self.gradient_penalty_tracker.update_state(penalty)
        if self.r1_penalty_weight:
            penalty = losses_lib.r1_penalty(self._critic(labels), real_images)
            total_d_loss += self.r1_penalty_weight * penalty
            self.r1_penalty_tracker.update_state(penalty)
        return d_loss, total_d_loss, real_logits, fake_logits

    @staticmethod
    def _scaled(optimizer, loss, replicas):
        """What to differentiate (inside the tape): the loss over the replicas, loss-scaled.

        Loss scaling is a no-op unless the optimizer is a LossScaleOptimizer."""
        return optimizer.scale_loss(loss / replicas)

    def _apply(self, optimizer, scaled_loss, tape, variables, tracker):
        """One optimizer step on `scaled_loss`; the gradients' global norm goes to `tracker`."""
        gradients = tape.gradient(scaled_loss, variables)
        if self._tracks_gradients():
            tracker.update_state(tf.linalg.global_norm(gradients))
        optimizer.apply_gradients(zip(gradients, variables))

    def _alternating_step(self, real_images, labels, batch_size, replicas):
        # Discriminator steps: ascend log D(x) + log(1 - D(G(z))) (or the chosen loss).
        d_variables = self.discriminator.trainable_variables
        for _ in range(self.discriminator_steps):
            step = self.discriminator_optimizer.iterations
            latents = self._draw_latents(batch_size, step, D_LATENTS)
            with tf.GradientTape() as tape:
                fake_images = self._generate(latents, labels, training=True)
                d_loss, total_d_loss, real_logits, fake_logits = self._discriminator_loss(
                    real_images, fake_images, labels, step, batch_size)
                scaled_d_loss = self._scaled(self.discriminator_optimizer, total_d_loss, replicas)
            self._apply(self.discriminator_optimizer, scaled_d_loss, tape, d_variables,
                        self.d_grad_norm_tracker)
            self.d_loss_tracker.update_state(d_loss)

        # Generator step, with fresh latents.
        latents = self._draw_latents(batch_size, self.generator_optimizer.iterations, G_LATENTS)
        g_labels = labels
        if self.mode_seeking_weight and labels is not None:
            g_labels = _paired_labels(labels)
        with tf.GradientTape() as tape:
            g_images = self._generate(latents, g_labels, training=True)
            generated = self._augment(g_images, 2 * self.generator_optimizer.iterations + 1)
            generated_logits = self._discriminate(generated, g_labels, training=True)
            g_loss = self.generator_loss_fn(generated_logits)
            total_g_loss = g_loss
            if self.mode_seeking_weight:
                penalty = losses_lib.mode_seeking_penalty(g_images, latents)
                total_g_loss += self.mode_seeking_weight * penalty
                self.mode_seeking_tracker.update_state(penalty)
            scaled_g_loss = self._scaled(self.generator_optimizer, total_g_loss, replicas)
        self._apply(self.generator_optimizer, scaled_g_loss, tape,
                    self.generator.trainable_variables, self.g_grad_norm_tracker)
        return real_logits, fake_logits, g_loss

    def _simultaneous_step(self, real_images, labels, batch_size, replicas):
        # One generator pass; both players' gradients from the same forward pass.
        step = self.discriminator_optimizer.iterations
        latents = self._draw_latents(batch_size, step, D_LATENTS)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake_images = self._generate(latents, labels, training=True)
            d_loss, total_d_loss, real_logits, fake_logits = self._discriminator_loss(
                real_images, fake_images, labels, step, batch_size)
            g_loss = self.generator_loss_fn(fake_logits)
            scaled_d_loss = self._scaled(self.discriminator_optimizer, total_d_loss, replicas)
            scaled_g_loss = self._scaled(self.generator_optimizer, g_loss, replicas)
        self._apply(self.discriminator_optimizer, scaled_d_loss, d_tape,
                    self.discriminator.trainable_variables, self.d_grad_norm_tracker)
        self._apply(self.generator_optimizer, scaled_g_loss, g_tape,
                    self.generator.trainable_variables, self.g_grad_norm_tracker)
        self.d_loss_tracker.update_state(d_loss)
        return real_logits, fake_logits, g_loss

    def _adapt_augmentation(self, real_logits):
        """ADA: moves p by `ada_adjustment` of the global batch's signs of D(real)."""
        signs = tf.sign(tf.cast(real_logits, tf.float32) - self.decision_threshold)
        totals = tf.stack([tf.reduce_sum(signs), tf.cast(tf.size(signs), tf.float32)])
        context = tf.distribute.get_replica_context()
        if context is not None:
            totals = context.all_reduce(tf.distribute.ReduceOp.SUM, totals)
        change = augment_lib.ada_adjustment(totals[0] / totals[1], self.ada_target,
                                            totals[1], self.ada_ramp_images)
        self.ada_p.assign(tf.clip_by_value(self.ada_p + change, 0.0, 1.0))

    def _transform(self, images, uniforms):
        if self.augment == "ada":
            return augment_lib.ada_augment(images, uniforms, self.ada_p)
        return augment_lib.diff_augment(images, uniforms)

    def _num_uniforms(self):
        return (augment_lib.ADA_NUM_UNIFORMS if self.augment == "ada"
                else augment_lib.NUM_UNIFORMS)

    def _augment(self, images, step):
        """`images` as D sees them: augmented with draws for (seed, step) when augmenting."""
        if self.augment == "none":
            return images
        uniforms = self._draw(tf.shape(images)[0], [self._num_uniforms()], step, AUGMENTATION,
                              uniform=True)
        return self._transform(images, uniforms)

    def _augment_pair(self, real_images, fake_images, step):
        """Real and fake images of a D step, each with its own draws (D uses even steps)."""
        if self.augment == "none":
            return real_images, fake_images
        uniforms = self._draw(tf.shape(real_images)[0], [2, self._num_uniforms()],
                              2 * tf.cast(step, tf.int64), AUGMENTATION, uniform=True)
        return (self._transform(real_images, uniforms[:, 0]),
                self._transform(fake_images, uniforms[:, 1]))

    def _draw(self, batch_size, shape, step, stream, uniform=False):
        """This replica's slice of `training_draw` for a global batch, `(batch_size,) + shape`."""
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica = context.replica_id_in_sync_group if context is not None else 0
        values = training_draw(self.seed, stream, step, [batch_size * replicas] + list(shape),
                               uniform=uniform)
        start = tf.cast(replica, tf.int32) * batch_size
        return values[start:start + batch_size]

    def _draw_latents(self, batch_size, step, stream):
        """This replica's latents of `stream` at `step`, in the generator's distribution."""
        uniform = self.latent_distribution == "uniform"
        values = self._draw(batch_size, [self.latent_dim], step, stream, uniform=uniform)
        return 2.0 * values - 1.0 if uniform else values

    @property
    def uses_ema(self):
        """True when G's optimizer keeps an exponential moving average of G's weights."""
        return bool(getattr(_inner_optimizer(getattr(self, "generator_optimizer", None)),
                            "use_ema", False))

    def sampling_generator(self):
        """The generator to sample from: G with the averaged weights when `uses_ema`, else G.

        The averages are the generator optimizer's own (`keras.optimizers.Adam(use_ema=True,
        ema_momentum=decay)`), so they are checkpointed with the optimizer. The averaged
        generator is a separate model whose trainable weights are those averages and whose
        other weights (e.g. batch-norm statistics) are G's; it is refreshed on every call.
        """
        optimizer = _inner_optimizer(getattr(self, "generator_optimizer", None))
        if not self.uses_ema or int(optimizer.iterations) == 0:
            return self.generator  # before the first step the averages are not set yet
        if self._averaged.model is None:
            self._averaged.model = _clone(self.generator, self.latent_dim)
        averages = moving_averages(optimizer)
        for target, source in zip(self._averaged.model.weights, self.generator.weights):
            target.assign(averages.get(id(source), source))
        return self._averaged.model

    def generate(self, num_images, seed=0, batch_size=500, labels=None):
        """`num_images` images in [-1, 1] (numpy), from latents drawn from `seed`.

        Uses `sampling_generator()`: the averaged weights when training keeps an EMA.

        Args:
            num_images: how many images.
            seed: seed of the latents (`sample_latents`, in the generator's
                `latent_distribution`); the exported generator's `generate` signature gives
                the same images for the same seed (and labels).
            batch_size: images per generator call. The same seed, labels and batch_size
                give bit-identical images on one machine; another batch_size gives the same
                images up to float32 round-off (below 1e-6 measured: the CPU's kernels
                block their sums by batch size).
            labels: class-conditional GANs only: None (balanced, 0, 1, ..., 9, 0, ...), one
                class index for every image, or `num_images` class indices.
        """
        check_positive_int("num_images", num_images)
        if self.num_classes:
            labels = tf.constant(class_labels(num_images, self.num_classes, labels))
        elif labels is not None:
            raise invalid("labels", labels, "None: this GAN is not class-conditional")
        latents = sample_latents(num_images, self.latent_dim, seed, self.latent_distribution)
        generator = self.sampling_generator()
        parts = [self._generate(latents[i:i + batch_size],
                                None if labels is None else labels[i:i + batch_size],
                                generator=generator)
                 for i in range(0, num_images, batch_size)]
        return np.concatenate([np.asarray(p) for p in parts])

    def checkpoint_items(self):
        """What a `tf.train.Checkpoint` must hold to resume this GAN exactly."""
        items = {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
        }
        if self.augment == "ada":
            items["ada_p"] = self.ada_p
        return items

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "seed": self.seed,
            "latent_dim": self.latent_dim,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return players_from_config(cls, config, custom_objects)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return {}
        return {
            **optimizers_config(self),
            "loss": self.loss_name,
            "gradient_penalty": self.gradient_penalty_weight,
            "r1_penalty": self.r1_penalty_weight,
            "mode_seeking": self.mode_seeking_weight,
            "discriminator_steps": self.discriminator_steps,
            "update": self.update,
            "augment": self.augment,
            "ada_target": self.ada_target,
            "ada_ramp_images": self.ada_ramp_images,
        }

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            generator_optimizer=keras.optimizers.deserialize(config["generator_optimizer"]),
            discriminator_optimizer=keras.optimizers.deserialize(
                config["discriminator_optimizer"]),
            loss=config["loss"],
            gradient_penalty=config.get("gradient_penalty", 0.0),
            r1_penalty=config.get("r1_penalty", 0.0),
            mode_seeking=config.get("mode_seeking", 0.0),
            discriminator_steps=config.get("discriminator_steps", 1),
            update=config.get("update", "alternating"),
            augment=config.get("augment", "none"),
            ada_target=config.get("ada_target", names.ADA_TARGET),
            ada_ramp_images=config.get("ada_ramp_images", names.ADA_RAMP_IMAGES),
        )
