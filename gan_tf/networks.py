"""Generators and discriminators: plain `keras.Model` subclasses, architecture only.

Each class builds its graph functionally in `__init__` (the KerasHub backbone pattern), keeps
every constructor argument as an attribute, lists them all in `get_config`, and registers
itself for Keras serialization, so `model.save("g.keras")` / `keras.saving.load_model` work
with gan_tf imported. Generators map latents `(batch, latent_dim)` to images in [-1, 1]
(tanh); discriminators map images to one logit per image (no sigmoid).

With `num_classes`, every network is class-conditional: generators take `[latents, labels]`
(the label's learned embedding is concatenated to z, as in Mirza and Osindero's conditional
GAN) and discriminators take `[images, labels]` and add a projection term
`<embed(y), phi(x)>` to the logit (Miyato and Koyama, "cGANs with Projection
Discriminator", 2018). Labels are int32 class indices `(batch,)` in `[0, num_classes)`.
"""

import math

import keras

from gan_tf.names import (ARCHITECTURES, DISCRIMINATOR_ACTIVATIONS, GENERATOR_ACTIVATIONS,
                          LATENT_DISTRIBUTIONS)
from gan_tf.errors import UserError, check_choice, invalid
from gan_tf.layers import FusedBatchNormalization, ToImageConv2D

_PACKAGE = "gan_tf"


class _Network(keras.Model):
    """Shared `get_config`: the constructor arguments named in `_config_names`."""

    _config_names = ()

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for name in self._config_names:
            value = getattr(self, name)
            config[name] = list(value) if isinstance(value, tuple) else value
        return config


def _maybe_spectral(layer, spectral_norm):
    """`layer`, wrapped in Keras's SpectralNormalization when `spectral_norm` is on."""
    return keras.layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm \
        else layer


def _activation(kind, negative_slope, name, feature_maps=False):
    """The hidden nonlinearity `kind` ("relu", "leaky_relu" or "prelu"), named `name`.

    PReLU (He et al., 2015) learns the slope of the negative part, one per channel on feature
    maps (He et al.'s channel-wise form) and one per unit after a Dense layer; it starts at
    `negative_slope`, so a PReLU network starts out as its LeakyReLU twin.
    """
    if kind == "relu":
        return keras.layers.ReLU(name=name)
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope, name=name)
    return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(negative_slope),
                              shared_axes=[1, 2] if feature_maps else None, name=name)


def _check_activation(activation, choices, negative_slope):
    check_choice("activation", activation, choices)
    if (isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float))
            or not 0 <= negative_slope < 1):
        raise invalid("negative_slope", negative_slope, "a number in [0, 1), e.g. 0.2")


def _check_latent_distribution(latent_distribution):
    check_choice("latent_distribution", latent_distribution, LATENT_DISTRIBUTIONS)
    return latent_distribution


def _check_num_classes(num_classes):
    if num_classes is not None and (not isinstance(num_classes, int) or isinstance(
            num_classes, bool) or num_classes < 2):
        raise invalid("num_classes", num_classes,
                      "None (unconditional) or an integer >= 2 (class-conditional)")
    return num_classes


def _generator_inputs(latent_dim, num_classes, embedding_dim):
    """`(inputs, x)`: the latents input (plus a labels input whose embedding is concatenated
    to z when `num_classes` is set) and the tensor the generator grows from."""
    latents = keras.Input(shape=(latent_dim,), name="latents")
    if num_classes is None:
        return latents, latents
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    embedding = keras.layers.Embedding(num_classes, embedding_dim, name="label_embedding")(labels)
    x = keras.layers.Concatenate(name="latents_and_label")([latents, embedding])
    return [latents, labels], x


def _discriminator_inputs(image_shape, num_classes):
    images = keras.Input(shape=image_shape, name="images")
    if num_classes is None:
        return images, images, None
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    return [images, labels], images, labels


def _logits(features, labels, num_classes, spectral_norm):
    """One logit per example from `features`; plus `<embed(y), features>` when conditional."""
    logits = _maybe_spectral(keras.layers.Dense(1, dtype="float32", name="logits"),
                             spectral_norm)(features)
    if num_classes is None:
        return logits
    # The projection discriminator's class term. The embedding is not spectrally normalized
    # (Keras's SpectralNormalization wraps kernels only).
    embedding = keras.layers.Embedding(num_classes, int(features.shape[-1]),
                                       name="label_projection")(labels)
    projection = keras.layers.Dot(axes=1, dtype="float32", name="projection")(
        [embedding, features])
    return keras.layers.Add(dtype="float32", name="conditional_logits")([logits, projection])


def _image_shape(image_shape):
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise invalid("image_shape", image_shape, "(height, width, channels) of positive ints")
    return shape


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MLPGenerator(_Network):
    """A fully connected generator: z -> Dense 128 -> Dense 128 -> Dense H*W*C, tanh.

    `latent_distribution` does not change the computation: it records which z the generator
    is meant for, and every sampler of gan_tf (`gan_tf.gan.latent_distribution_of`) draws
    from it.

    Example:
    ```python
    generator = MLPGenerator(latent_dim=100, image_shape=(28, 28, 1))
    images = generator(keras.random.normal((16, 100)))  # (16, 28, 28, 1) in [-1, 1]
    ```

    Args:
        latent_dim: size of the input noise. Defaults to 100.
        image_shape: `(height, width, channels)` of the output images. Defaults to (28, 28, 1).
        hidden_units: widths of the hidden Dense layers. Defaults to (128, 128).
        negative_slope: LeakyReLU slope (PReLU's initial slope). Defaults to 0.2
            (`tf.nn.leaky_relu`'s default).
        num_classes: None (unconditional) or the number of classes: the generator then
            takes `[latents, labels]`. Defaults to None.
        embedding_dim: size of the label embedding concatenated to z when conditional.
            Defaults to 50.
        activation: "leaky_relu", "prelu" or "relu" after each hidden layer.
            Defaults to "leaky_relu" (the design note's).
        latent_distribution: "normal" (standard normal z) or "uniform" (U[-1, 1]).
            Defaults to "normal".
    """

    _config_names = ("latent_dim", "image_shape", "hidden_units", "negative_slope",
                     "num_classes", "embedding_dim", "activation", "latent_distribution")

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), hidden_units=(128, 128),
                 negative_slope=0.2, num_classes=None, embedding_dim=50,
                 activation="leaky_relu", latent_distribution="normal", **kwargs):
        image_shape = _image_shape(image_shape)
        hidden_units = tuple(int(u) for u in hidden_units)
        num_classes = _check_num_classes(num_classes)
        _check_activation(activation, GENERATOR_ACTIVATIONS, negative_slope)
        _check_latent_distribution(latent_distribution)
        # === Functional Model ===
        inputs, x = _generator_inputs(latent_dim, num_classes, embedding_dim)
        for index, units in enumerate(hidden_units):
            x = keras.layers.Dense(units, name=f"dense_{index}")(x)
            x = _activation(activation, negative_slope, f"{activation}_{index}")(x)
        x = keras.layers.Dense(math.prod(image_shape), name="output_dense")(x)
        x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
        images = keras.layers.Reshape(image_shape, dtype="float32", name="images")(x)
        super().__init__(inputs=inputs, outputs=images, **kwargs)
        # === Config ===
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.hidden_units = hidden_units
        self.negative_slope = negative_slope
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.activation = activation
        self.latent_distribution = latent_distribution


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MLPDiscriminator(_Network):
    """A fully connected discriminator: image -> Dense 128 -> Dense 128 -> 1 logit.

    Example:
    ```python
    discriminator = MLPDiscriminator(image_shape=(28, 28, 1))
    logits = discriminator(keras.random.uniform((16, 28, 28, 1), -1, 1))  # (16, 1)
    ```

    Args:
        image_shape: `(height, width, channels)` of the input images. Defaults to (28, 28, 1).
        hidden_units: widths of the hidden Dense layers. Defaults to (128, 128).
        negative_slope: LeakyReLU slope (PReLU's initial slope). Defaults to 0.2.
        spectral_norm: wrap every Dense layer in `keras.layers.SpectralNormalization`
            (Miyato et al., 2018). Defaults to False.
        num_classes: None (unconditional) or the number of classes: the discriminator then
            takes `[images, labels]` and adds a projection term to the logit. Defaults to None.
        activation: "leaky_relu" or "prelu" after each hidden layer. Defaults to
            "leaky_relu".
    """

    _config_names = ("image_shape", "hidden_units", "negative_slope", "spectral_norm",
                     "num_classes", "activation")

    def __init__(self, image_shape=(28, 28, 1), hidden_units=(128, 128), negative_slope=0.2,
                 spectral_norm=False, num_classes=None, activation="leaky_relu", **kwargs):
        image_shape = _image_shape(image_shape)
        hidden_units = tuple(int(u) for u in hidden_units)
        num_classes = _check_num_classes(num_classes)
        _check_activation(activation, DISCRIMINATOR_ACTIVATIONS, negative_slope)
        # === Functional Model ===
        inputs, images, labels = _discriminator_inputs(image_shape, num_classes)
        x = keras.layers.Flatten(name="flatten")(images)
        for index, units in enumerate(hidden_units):
            x = _maybe_spectral(keras.layers.Dense(units, name=f"dense_{index}"), spectral_norm)(x)
            x = _activation(activation, negative_slope, f"{activation}_{index}")(x)
        logits = _logits(x, labels, num_classes, spectral_norm)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        # === Config ===
        self.image_shape = image_shape
        self.hidden_units = hidden_units
        self.negative_slope = negative_slope
        self.spectral_norm = spectral_norm
        self.num_classes = num_classes
        self.activation = activation


def dcgan_upsamplings(image_shape, max_upsamplings=4):
    """How many stride-2 stages fit `image_shape`: the most (up to 4) that leave >= 3 pixels.

    28x28 -> 2 (7x7 start), 32x32 -> 3 (4x4), 64x64 -> 4 (4x4). Raises `UserError` below 2.
    """
    height, width = image_shape[:2]
    count = 0
    while (count < max_upsamplings and height % 2 ** (count + 1) == 0
           and width % 2 ** (count + 1) == 0 and min(height, width) // 2 ** (count + 1) >= 3):
        count += 1
    if count < 2:
        raise UserError(
            f"The DCGAN cannot take {height}x{width} images: it needs a height and width "
            "divisible by 4 and at least 12 (e.g. 28x28, 32x32, 64x64). Resize them with "
            "--image_size=28 (or 32, 64), or use --architecture=mlp, which takes any size."
        )
    return count


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DCGANGenerator(_Network):
    """A DCGAN generator sized to the images: Dense to a small map, then stride-2 upsampling.

    For 28x28 images: z -> 7x7x(2f) -> 14x14xf -> 28x28x(f/2) -> 28x28xC: transposed 4x4
    convolutions with batch normalization and ReLU (Radford et al., 2016), then a stride-1
    4x4 convolution to the image channels and tanh. `activation` replaces the ReLUs by
    LeakyReLU or PReLU; `latent_distribution` records which z the generator is meant for
    (see `MLPGenerator`).

    Example:
    ```python
    generator = DCGANGenerator(latent_dim=100, image_shape=(32, 32, 3))
    images = generator(keras.random.normal((16, 100)))  # (16, 32, 32, 3)
    ```

    Args:
        latent_dim: size of the input noise. Defaults to 100.
        image_shape: `(height, width, channels)`; height and width divisible by 4.
            Defaults to (28, 28, 1).
        filters: channels of the last hidden stage; earlier stages double it. Defaults to 64.
        batch_norm_momentum: momentum of the BatchNormalization moving statistics.
            Defaults to 0.9.
        num_classes: None (unconditional) or the number of classes: the generator then
            takes `[latents, labels]`. Defaults to None.
        embedding_dim: size of the label embedding concatenated to z when conditional.
            Defaults to 50.
        activation: "relu", "leaky_relu" or "prelu" after each batch normalization.
            Defaults to "relu" (Radford et al.'s).
        negative_slope: slope of LeakyReLU (PReLU's initial slope); unused by "relu".
            Defaults to 0.2.
        latent_distribution: "normal" (standard normal z) or "uniform" (U[-1, 1]).
            Defaults to "normal".
    """

    _config_names = ("latent_dim", "image_shape", "filters", "batch_norm_momentum",
                     "num_classes", "embedding_dim", "activation", "negative_slope",
                     "latent_distribution")

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), filters=64,
                 batch_norm_momentum=0.9, num_classes=None, embedding_dim=50,
                 activation="relu", negative_slope=0.2, latent_distribution="normal",
                 **kwargs):
        image_shape = _image_shape(image_shape)
        num_classes = _check_num_classes(num_classes)
        _check_activation(activation, GENERATOR_ACTIVATIONS, negative_slope)
        _check_latent_distribution(latent_distribution)
        stages = dcgan_upsamplings(image_shape)
        height, width = image_shape[0] // 2 ** stages, image_shape[1] // 2 ** stages
        start_filters = filters * 2 ** (stages - 1)
        # === Functional Model ===
        inputs, x = _generator_inputs(latent_dim, num_classes, embedding_dim)
        x = keras.layers.Dense(height * width * start_filters, use_bias=False, name="project")(x)
        x = FusedBatchNormalization(momentum=batch_norm_momentum, name="project_bn")(x)
        x = _activation(activation, negative_slope, f"project_{activation}",
                        feature_maps=False)(x)
        x = keras.layers.Reshape((height, width, start_filters), name="reshape")(x)
        for stage in range(1, stages + 1):
            x = keras.layers.Conv2DTranspose(
                max(1, start_filters // 2 ** stage), 4, strides=2, padding="same", use_bias=False,
                name=f"up_{stage}")(x)
            x = FusedBatchNormalization(momentum=batch_norm_momentum,
                                        name=f"up_{stage}_bn")(x)
            x = _activation(activation, negative_slope, f"up_{stage}_{activation}",
                            feature_maps=True)(x)
        # A stride-1 convolution at full resolution turns features into pixels: measured
        # 58% vs 49% of samples classified confidently, against a transposed convolution
        # straight to the image (BUILD_NOTES.md).
        x = ToImageConv2D(image_shape[-1], 4, padding="same", name="to_image")(x)
        images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=inputs, outputs=images, **kwargs)
        # === Config ===
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.filters = filters
        self.batch_norm_momentum = batch_norm_momentum
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.activation = activation
        self.negative_slope = negative_slope
        self.latent_distribution = latent_distribution


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DCGANDiscriminator(_Network):
    """A DCGAN discriminator sized to the images: stride-2 4x4 convolutions, LeakyReLU, 1 logit.

    For 28x28 images: 28x28xC -> 14x14xf -> 7x7x(2f) -> logit. No batch normalization, so
    the real and fake passes stay independent (and the logits are per-example).

    Example:
    ```python
    discriminator = DCGANDiscriminator(image_shape=(28, 28, 1))
    logits = discriminator(keras.random.uniform((16, 28, 28, 1), -1, 1))  # (16, 1)
    ```

    Args:
        image_shape: `(height, width, channels)`; height and width divisible by 4.
            Defaults to (28, 28, 1).
        filters: channels of the first convolution; later ones double it. Defaults to 64.
        negative_slope: LeakyReLU slope (PReLU's initial slope). Defaults to 0.2.
        spectral_norm: wrap every convolution and the Dense layer in
            `keras.layers.SpectralNormalization` (Miyato et al., 2018). Defaults to False.
        num_classes: None (unconditional) or the number of classes: the discriminator then
            takes `[images, labels]` and adds a projection term to the logit. Defaults to None.
        activation: "leaky_relu" or "prelu" (one learned slope per channel) after each
            convolution. Defaults to "leaky_relu".
    """

    _config_names = ("image_shape", "filters", "negative_slope", "spectral_norm", "num_classes",
                     "activation")

    def __init__(self, image_shape=(28, 28, 1), filters=64, negative_slope=0.2,
                 spectral_norm=False, num_classes=None, activation="leaky_relu", **kwargs):
        image_shape = _image_shape(image_shape)
        num_classes = _check_num_classes(num_classes)
        _check_activation(activation, DISCRIMINATOR_ACTIVATIONS, negative_slope)
        stages = dcgan_upsamplings(image_shape)
        # === Functional Model ===
        inputs, images, labels = _discriminator_inputs(image_shape, num_classes)
        x = images
        for stage in range(stages):
            x = _maybe_spectral(keras.layers.Conv2D(
                filters * 2 ** stage, 4, strides=2, padding="same", name=f"down_{stage}"),
                spectral_norm)(x)
            x = _activation(activation, negative_slope, f"down_{stage}_{activation}",
                            feature_maps=True)(x)
        x = keras.layers.Flatten(name="flatten")(x)
        logits = _logits(x, labels, num_classes, spectral_norm)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        # === Config ===
        self.image_shape = image_shape
        self.filters = filters
        self.negative_slope = negative_slope
        self.spectral_norm = spectral_norm
        self.num_classes = num_classes
        self.activation = activation


def make_generator(architecture, latent_dim, image_shape, filters=64, num_classes=None,
                   activation=None, negative_slope=0.2, latent_distribution="normal"):
    """The generator of `architecture` ("mlp" or "dcgan") for `image_shape`.

    With `num_classes`, a class-conditional generator taking `[latents, labels]`.
    `activation` None keeps the architecture's own (LeakyReLU for the MLP, ReLU for the
    DCGAN); `latent_distribution` is the z it is meant for ("normal" or "uniform").
    """
    options = dict(latent_dim=latent_dim, image_shape=image_shape, num_classes=num_classes,
                   negative_slope=negative_slope, latent_distribution=latent_distribution,
                   name="generator")
    if activation is not None:
        options["activation"] = activation
    if architecture == "mlp":
        return MLPGenerator(**options)
    if architecture == "dcgan":
        return DCGANGenerator(filters=filters, **options)
    raise invalid("architecture", architecture, f"one of {ARCHITECTURES}")


def make_discriminator(architecture, image_shape, filters=64, spectral_norm=False,
                       num_classes=None, activation="leaky_relu", negative_slope=0.2):
    """The discriminator of `architecture` ("mlp" or "dcgan") for `image_shape`.

    With `num_classes`, a projection discriminator taking `[images, labels]`; `activation`
    is "leaky_relu" (with `negative_slope`) or "prelu" (starting at `negative_slope`).
    """
    options = dict(image_shape=image_shape, spectral_norm=spectral_norm,
                   num_classes=num_classes, activation=activation,
                   negative_slope=negative_slope, name="discriminator")
    if architecture == "mlp":
        return MLPDiscriminator(**options)
    if architecture == "dcgan":
        return DCGANDiscriminator(filters=filters, **options)
    raise invalid("architecture", architecture, f"one of {ARCHITECTURES}")
