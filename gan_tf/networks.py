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

from gan_tf.names import (ARCHITECTURES, DEFAULT_SPECTRAL_NORM, DISCRIMINATOR_ACTIVATIONS,
                          GENERATOR_ACTIVATIONS, LATENT_DISTRIBUTIONS)
from gan_tf.errors import UserError, check_choice, check_positive_int, invalid
from gan_tf.layers import (ConditionalBatchNormalization, FusedBatchNormalization,
                           GlobalSumPooling2D, SelfAttention, ToImageConv2D)

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


def halvings(image_shape, max_halvings, min_side=3):
    """How many times the height and width of `image_shape` halve exactly, both even each time,
    keeping at least `min_side` pixels, up to `max_halvings`: the stride-2 stages a
    convolutional network sized to the images takes (28x28 -> 2, 32x32 -> 3, 64x48 -> 4)."""
    height, width = image_shape[:2]
    count = 0
    while (count < max_halvings and height % 2 ** (count + 1) == 0
           and width % 2 ** (count + 1) == 0
           and min(height, width) // 2 ** (count + 1) >= min_side):
        count += 1
    return count


def _refuse_shape(what, image_shape, sizes, resize="--image_size=28 (or 32, 64)"):
    height, width = image_shape[:2]
    raise UserError(
        f"The {what} cannot take {width}x{height} (width x height) images: it needs a "
        "height and width "
        f"divisible by 4 and at least 12 (e.g. {sizes}). Resize them with {resize}, or use "
        "--architecture=mlp, which takes any size."
    )


def dcgan_upsamplings(image_shape, max_upsamplings=4):
    """How many stride-2 stages fit `image_shape`: the most (up to 4) that leave >= 3 pixels.

    28x28 -> 2 (7x7 start), 32x32 -> 3 (4x4), 64x64 -> 4 (4x4). Raises `UserError` below 2.
    """
    count = halvings(image_shape, max_upsamplings)
    if count < 2:
        _refuse_shape("DCGAN", image_shape, "28x28, 32x32, 64x64")
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


MAX_RESNET_UPSAMPLINGS = 6  # 256x256 -> a 4x4 start; larger images start larger
MAX_WIDTH_MULTIPLIER = 16  # the widest block has 16x `filters` channels (BigGAN's cap)


def resnet_upsamplings(image_shape):
    """How many residual up-blocks (and down-blocks) fit `image_shape`: H and W halve while
    both are even and at least 3 pixels remain, up to 6.

    28x28 -> 2 (7x7 start), 32x32 -> 3 (4x4), 48x48 -> 4 (3x3), 64x48 -> 4 (4x3),
    128x128 -> 5, 256x256 -> 6 (4x4). Raises `UserError` below 2.
    """
    count = halvings(image_shape, MAX_RESNET_UPSAMPLINGS)
    if count < 2:
        _refuse_shape("residual GAN", image_shape, "28x28, 32x32, 48x48, 64x48, 128x128",
                      resize="--image_size=32 (or 64, 128)")
    return count


def _resnet_width(filters, level):
    """Channels of the residual blocks at `level` halvings below the image: `filters` at
    full resolution, doubling at each halving up to `MAX_WIDTH_MULTIPLIER` times."""
    return filters * min(2 ** level, MAX_WIDTH_MULTIPLIER)


def _attention_level(attention_resolution, image_shape, upsamplings):
    """The level (halvings below the image) of the self-attention block, or None for none.

    The block goes on feature maps that both networks have between their residual blocks:
    heights `H / 2**k` for `k` in `1 .. upsamplings - 1`.
    """
    if isinstance(attention_resolution, bool) or not isinstance(attention_resolution, int):
        raise invalid("attention_resolution", attention_resolution,
                      "0 (no self-attention) or a feature-map height such as 16")
    if attention_resolution == 0:
        return None
    levels = {image_shape[0] // 2 ** level: level for level in range(1, upsamplings)}
    if attention_resolution not in levels:
        choices = ", ".join(str(height) for height in sorted(levels))
        raise UserError(
            f"Invalid value for argument attention_resolution. Received: attention_resolution="
            f"{attention_resolution}. Expected 0 (no self-attention) or the height of one of "
            f"the residual networks' inner feature maps for {image_shape[1]}x{image_shape[0]} "
            f"(width x height) images: {choices}.")
    return levels[attention_resolution]


def _batch_norm(x, labels, num_classes, momentum, name):
    """Batch normalization, class-conditional (per-class scale and offset) with labels."""
    if num_classes is None:
        return FusedBatchNormalization(momentum=momentum, name=name)(x)
    return ConditionalBatchNormalization(num_classes, momentum=momentum, name=name)(
        [x, labels])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResNetGenerator(_Network):
    """A residual generator sized to the images (SNGAN, Miyato et al. 2018; BigGAN, Brock et
    al. 2019).

    z -> Dense to a small grid (the image halved while both sides are even, e.g. 7x7 for 28x28,
    4x4 for 32x32 and 64x64, 4x3 for 64x48) -> up-blocks -> batch norm, ReLU, 3x3 convolution
    to the image channels, tanh. Each up-block is batch norm, ReLU, 2x nearest upsampling, 3x3
    convolution, batch norm, ReLU, 3x3 convolution, plus a shortcut of a 1x1 convolution and
    upsampling (computed in that order: the same result as upsampling first, on a quarter of
    the multiplies). The block at full resolution has `filters` channels; each one below it
    twice as many, up to 16x. With `num_classes`, every block's batch normalization is
    class-conditional (`gan_tf.layers.ConditionalBatchNormalization`) and the generator takes
    `[latents, labels]`; z is not concatenated with a label embedding. An optional SAGAN
    self-attention block follows the up-block that makes maps of height
    `attention_resolution`.

    Example:
    ```python
    generator = ResNetGenerator(latent_dim=128, image_shape=(32, 32, 3), filters=64)
    images = generator(keras.random.normal((16, 128)))  # (16, 32, 32, 3) in [-1, 1]
    ```

    Args:
        latent_dim: size of the input noise. Defaults to 100.
        image_shape: `(height, width, channels)`; height and width divisible by 4 and at
            least 12. Defaults to (28, 28, 1).
        filters: channels of the full-resolution block. Defaults to 64.
        batch_norm_momentum: momentum of the batch normalizations' moving statistics.
            Defaults to 0.9.
        num_classes: None (unconditional) or the number of classes: the generator then
            takes `[latents, labels]`. Defaults to None.
        attention_resolution: 0 (none) or the height of the feature maps that get a
            self-attention block, one of `H / 2**k` for `k` in `1 .. blocks - 1` (e.g. 16 or
            8 for 32x32 images, 14 for 28x28). Defaults to 0.
        activation: "relu", "leaky_relu" or "prelu" after each batch normalization.
            Defaults to "relu" (SNGAN's and BigGAN's).
        negative_slope: slope of LeakyReLU (PReLU's initial slope); unused by "relu".
            Defaults to 0.2.
        latent_distribution: "normal" (standard normal z) or "uniform" (U[-1, 1]).
            Defaults to "normal".
    """

    _config_names = ("latent_dim", "image_shape", "filters", "batch_norm_momentum",
                     "num_classes", "attention_resolution", "activation", "negative_slope",
                     "latent_distribution")

    def __init__(self, latent_dim=100, image_shape=(28, 28, 1), filters=64,
                 batch_norm_momentum=0.9, num_classes=None, attention_resolution=0,
                 activation="relu", negative_slope=0.2, latent_distribution="normal",
                 **kwargs):
        image_shape = _image_shape(image_shape)
        num_classes = _check_num_classes(num_classes)
        check_positive_int("filters", filters)
        _check_activation(activation, GENERATOR_ACTIVATIONS, negative_slope)
        _check_latent_distribution(latent_distribution)
        blocks = resnet_upsamplings(image_shape)
        attention_level = _attention_level(attention_resolution, image_shape, blocks)
        height, width = image_shape[0] // 2 ** blocks, image_shape[1] // 2 ** blocks
        start_filters = _resnet_width(filters, blocks)
        # === Functional Model ===
        latents = keras.Input(shape=(latent_dim,), name="latents")
        inputs, labels = latents, None
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = [latents, labels]
        x = keras.layers.Dense(height * width * start_filters, name="project")(latents)
        x = keras.layers.Reshape((height, width, start_filters), name="reshape")(x)
        for block in range(1, blocks + 1):
            level = blocks - block
            name = f"block_{block}"
            out_filters = _resnet_width(filters, level)
            h = _batch_norm(x, labels, num_classes, batch_norm_momentum, f"{name}_bn_1")
            h = _activation(activation, negative_slope, f"{name}_{activation}_1",
                            feature_maps=True)(h)
            h = keras.layers.UpSampling2D(2, name=f"{name}_upsample")(h)
            # No bias before a batch normalization: it would subtract it again.
            h = keras.layers.Conv2D(out_filters, 3, padding="same", use_bias=False,
                                    name=f"{name}_conv_1")(h)
            h = _batch_norm(h, labels, num_classes, batch_norm_momentum, f"{name}_bn_2")
            h = _activation(activation, negative_slope, f"{name}_{activation}_2",
                            feature_maps=True)(h)
            h = keras.layers.Conv2D(out_filters, 3, padding="same", name=f"{name}_conv_2")(h)
            shortcut = keras.layers.Conv2D(out_filters, 1, name=f"{name}_shortcut")(x)
            shortcut = keras.layers.UpSampling2D(2, name=f"{name}_shortcut_upsample")(shortcut)
            x = keras.layers.Add(name=f"{name}_add")([h, shortcut])
            if level == attention_level:
                x = SelfAttention(name="attention")(x)
        x = FusedBatchNormalization(momentum=batch_norm_momentum, name="output_bn")(x)
        x = _activation(activation, negative_slope, f"output_{activation}",
                        feature_maps=True)(x)
        x = ToImageConv2D(image_shape[-1], 3, padding="same", name="to_image")(x)
        images = keras.layers.Activation("tanh", dtype="float32", name="images")(x)
        super().__init__(inputs=inputs, outputs=images, **kwargs)
        # === Config ===
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.filters = filters
        self.batch_norm_momentum = batch_norm_momentum
        self.num_classes = num_classes
        self.attention_resolution = attention_resolution
        self.activation = activation
        self.negative_slope = negative_slope
        self.latent_distribution = latent_distribution


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResNetDiscriminator(_Network):
    """A residual discriminator sized to the images, with spectral normalization (SNGAN,
    Miyato et al. 2018).

    An optimized first block (3x3 convolution, activation, 3x3 convolution, 2x2 average
    pooling; shortcut: average pooling, 1x1 convolution), down-blocks (activation, 3x3
    convolution, activation, 3x3 convolution, average pooling; shortcut: average pooling and
    a 1x1 convolution, the same as SNGAN's convolution then pooling on a quarter of the
    multiplies) to the generator's start grid, one more block at that size, activation,
    a sum over positions and a Dense logit; with `num_classes`, plus the projection term
    `<embed(y), h>` (Miyato and Koyama, 2018). The first block has `filters` channels and
    each further halving doubles them, up to 16x: at each size, half the generator's
    channels (SNGAN's and BigGAN's proportions; at 128x128 BigGAN's widths exactly). Every
    convolution and the Dense layer are spectrally normalized unless `spectral_norm=False`. An optional SAGAN self-attention block follows
    the block whose maps have height `attention_resolution`. The activation is LeakyReLU by
    default, as in gan_tf's other discriminators (SNGAN's is ReLU, which gan_tf keeps out of
    discriminators: its gradient is zero on half of every unit's inputs).

    Example:
    ```python
    discriminator = ResNetDiscriminator(image_shape=(32, 32, 3), filters=64)
    logits = discriminator(keras.random.uniform((16, 32, 32, 3), -1, 1))  # (16, 1)
    ```

    Args:
        image_shape: `(height, width, channels)`; height and width divisible by 4 and at
            least 12. Defaults to (28, 28, 1).
        filters: channels of the first block. Defaults to 64.
        negative_slope: LeakyReLU slope (PReLU's initial slope). Defaults to 0.2.
        spectral_norm: wrap every convolution and the Dense layer in
            `keras.layers.SpectralNormalization`. Defaults to True.
        num_classes: None (unconditional) or the number of classes: the discriminator then
            takes `[images, labels]` and adds a projection term to the logit. Defaults to None.
        attention_resolution: 0 (none) or the height of the feature maps that get a
            self-attention block (see `ResNetGenerator`). Defaults to 0.
        activation: "leaky_relu" or "prelu" (one learned slope per channel). Defaults to
            "leaky_relu".
    """

    _config_names = ("image_shape", "filters", "negative_slope", "spectral_norm", "num_classes",
                     "attention_resolution", "activation")

    def __init__(self, image_shape=(28, 28, 1), filters=64, negative_slope=0.2,
                 spectral_norm=True, num_classes=None, attention_resolution=0,
                 activation="leaky_relu", **kwargs):
        image_shape = _image_shape(image_shape)
        num_classes = _check_num_classes(num_classes)
        check_positive_int("filters", filters)
        _check_activation(activation, DISCRIMINATOR_ACTIVATIONS, negative_slope)
        blocks = resnet_upsamplings(image_shape)
        attention_level = _attention_level(attention_resolution, image_shape, blocks)

        def convolution(filters, size, name, use_bias=True):
            return _maybe_spectral(keras.layers.Conv2D(filters, size, padding="same",
                                                       use_bias=use_bias, name=name),
                                   spectral_norm)

        def nonlinearity(name):
            return _activation(activation, negative_slope, name, feature_maps=True)

        # === Functional Model ===
        inputs, images, labels = _discriminator_inputs(image_shape, num_classes)
        # The optimized first block: no activation before the first convolution (the
        # input is pixels).
        h = convolution(filters, 3, "block_1_conv_1")(images)
        h = nonlinearity(f"block_1_{activation}_2")(h)
        h = convolution(filters, 3, "block_1_conv_2")(h)
        h = keras.layers.AveragePooling2D(2, name="block_1_pool")(h)
        shortcut = keras.layers.AveragePooling2D(2, name="block_1_shortcut_pool")(images)
        shortcut = convolution(filters, 1, "block_1_shortcut")(shortcut)
        x = keras.layers.Add(name="block_1_add")([h, shortcut])
        if attention_level == 1:
            x = SelfAttention(spectral_norm=spectral_norm, name="attention")(x)
        # Down-blocks to the start grid, then one block at that size (level `blocks`).
        for block in range(2, blocks + 2):
            level = min(block, blocks)
            downsample = block <= blocks
            name = f"block_{block}"
            out_filters = _resnet_width(filters, level - 1)
            h = nonlinearity(f"{name}_{activation}_1")(x)
            h = convolution(out_filters, 3, f"{name}_conv_1")(h)
            h = nonlinearity(f"{name}_{activation}_2")(h)
            h = convolution(out_filters, 3, f"{name}_conv_2")(h)
            shortcut = x
            if downsample:
                h = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(h)
                shortcut = keras.layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(x)
            if downsample or int(x.shape[-1]) != out_filters:
                shortcut = convolution(out_filters, 1, f"{name}_shortcut")(shortcut)
            x = keras.layers.Add(name=f"{name}_add")([h, shortcut])
            if downsample and level == attention_level:
                x = SelfAttention(spectral_norm=spectral_norm, name="attention")(x)
        x = nonlinearity(f"output_{activation}")(x)
        features = GlobalSumPooling2D(name="sum_pool")(x)
        logits = _logits(features, labels, num_classes, spectral_norm)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        # === Config ===
        self.image_shape = image_shape
        self.filters = filters
        self.negative_slope = negative_slope
        self.spectral_norm = spectral_norm
        self.num_classes = num_classes
        self.attention_resolution = attention_resolution
        self.activation = activation


def make_generator(architecture, latent_dim, image_shape, filters=64, num_classes=None,
                   activation=None, negative_slope=0.2, latent_distribution="normal",
                   attention_resolution=0):
    """The generator of `architecture` ("mlp", "dcgan" or "resnet") for `image_shape`.

    With `num_classes`, a class-conditional generator taking `[latents, labels]`.
    `activation` None keeps the architecture's own (LeakyReLU for the MLP, ReLU for the
    DCGAN and the ResNet); `latent_distribution` is the z it is meant for ("normal" or
    "uniform"); `attention_resolution` (resnet only) puts a self-attention block on the maps
    of that height (0: none).
    """
    options = dict(latent_dim=latent_dim, image_shape=image_shape, num_classes=num_classes,
                   negative_slope=negative_slope, latent_distribution=latent_distribution,
                   name="generator")
    if activation is not None:
        options["activation"] = activation
    _check_attention_architecture(architecture, attention_resolution)
    if architecture == "mlp":
        return MLPGenerator(**options)
    if architecture == "dcgan":
        return DCGANGenerator(filters=filters, **options)
    if architecture == "resnet":
        return ResNetGenerator(filters=filters, attention_resolution=attention_resolution,
                               **options)
    raise invalid("architecture", architecture, f"one of {ARCHITECTURES}")


def make_discriminator(architecture, image_shape, filters=64, spectral_norm=None,
                       num_classes=None, activation="leaky_relu", negative_slope=0.2,
                       attention_resolution=0):
    """The discriminator of `architecture` ("mlp", "dcgan" or "resnet") for `image_shape`.

    With `num_classes`, a projection discriminator taking `[images, labels]`; `activation`
    is "leaky_relu" (with `negative_slope`) or "prelu" (starting at `negative_slope`).
    `spectral_norm` None is the architecture's default (on for "resnet" only);
    `attention_resolution` (resnet only) puts a self-attention block on the maps of that
    height (0: none).
    """
    if spectral_norm is None:
        spectral_norm = DEFAULT_SPECTRAL_NORM.get(architecture, False)
    options = dict(image_shape=image_shape, spectral_norm=spectral_norm,
                   num_classes=num_classes, activation=activation,
                   negative_slope=negative_slope, name="discriminator")
    _check_attention_architecture(architecture, attention_resolution)
    if architecture == "mlp":
        return MLPDiscriminator(**options)
    if architecture == "dcgan":
        return DCGANDiscriminator(filters=filters, **options)
    if architecture == "resnet":
        return ResNetDiscriminator(filters=filters, attention_resolution=attention_resolution,
                                   **options)
    raise invalid("architecture", architecture, f"one of {ARCHITECTURES}")


def _check_attention_architecture(architecture, attention_resolution):
    if attention_resolution and architecture != "resnet":
        raise invalid("attention_resolution", attention_resolution,
                      f"0 for architecture={architecture!r}: only the resnet has self-attention")
