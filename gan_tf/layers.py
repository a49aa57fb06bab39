"""Keras layers of gan_tf's networks that Keras does not offer, or not as fast as they could be."""

import keras

from gan_tf.errors import invalid


def _several_replicas():
    """True inside a `tf.distribute` strategy of more than one replica (TensorFlow only)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() and (
        tf.distribute.get_strategy().num_replicas_in_sync > 1)


@keras.saving.register_keras_serializable(package="gan_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains through TensorFlow's fused kernel.

    Keras 3 normalizes a training batch with separate moment, subtraction, scaling and
    shift operations (and as many in the backward pass); TensorFlow's `FusedBatchNormV3`
    does each pass in one kernel. Same computation, same variables, same moving-average
    updates as Keras's layer (the moving variance takes the biased batch variance, as
    Keras's does), up to float32 rounding; measured 2-3x faster on the DCGAN's feature maps
    on CPU (BUILD_NOTES.md). With `scale=False` or `center=False` it runs the same kernel
    with a gamma of ones or a beta of zeros. Inference, masks, renormalization, synchronized
    statistics, another axis than the last, inputs of rank other than 2 or 4, and other
    backends fall back to Keras's own computation. Under a `tf.distribute` strategy with
    several replicas the training statistics are the global batch's (summed across the
    replicas, Keras's `synchronized` moments): every replica normalises as one device would
    with the whole batch, and the moving statistics stay the same on every worker.

    Example:
    ```python
    x = keras.Input((14, 14, 64))
    y = FusedBatchNormalization(momentum=0.9)(x)
    ```

    Args: those of `keras.layers.BatchNormalization`.
    """

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (training and self.trainable and mask is None and not self.renorm
                and not self.synchronized and rank in (2, 4) and self.axis in (-1, rank - 1)
                and keras.backend.backend() == "tensorflow" and not _several_replicas())

    def _moments(self, inputs, mask):
        if mask is None and _several_replicas():
            return keras.ops.moments(inputs, axes=self._reduction_axes, synchronized=True)
        return super()._moments(inputs, mask)

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # As Keras does: statistics in float32 whatever the compute dtype.
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        as_4d = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        # Without `scale` or `center` (a conditional batch normalization brings its own),
        # the kernel takes the identity's gamma of ones and beta of zeros.
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        normalized, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            as_4d, gamma, beta, epsilon=self.epsilon, is_training=True)
        # The kernel returns the batch variance with Bessel's correction; Keras's moving
        # average takes the biased one it normalizes with (0, not NaN, for one value).
        count = tf.cast(tf.size(as_4d) // channels, tf.float32)
        variance = tf.math.multiply_no_nan(unbiased_variance, (count - 1.0) / count)
        self.moving_mean.assign(
            self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        if len(x.shape) == 2:
            normalized = tf.reshape(normalized, tf.shape(x))
        return tf.cast(normalized, self.compute_dtype)


@keras.saving.register_keras_serializable(package="gan_tf")
class ToImageConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` to one output channel, computed as a depthwise convolution.

    A convolution to a single channel (a grayscale generator's last layer) is the sum over
    input channels of one 2D filter per channel: exactly a depthwise convolution (the
    kernel `(kh, kw, C, 1)` is already its filter) summed over channels. oneDNN runs the
    ordinary convolution to one channel far below its speed elsewhere; the depthwise form
    was measured 3x faster forward and as fast backward on the DCGAN's 28x28x32 maps
    (BUILD_NOTES.md). Same variables and config as `Conv2D`; any other case (more output
    channels, strides, dilation, groups, channels-first, another backend) is Keras's own.

    Example:
    ```python
    x = keras.Input((28, 28, 32))
    pixels = ToImageConv2D(1, 4, padding="same")(x)  # (None, 28, 28, 1)
    ```

    Args: those of `keras.layers.Conv2D`.
    """

    def _depthwise_applies(self):
        return (self.filters == 1 and self.groups == 1 and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.data_format == "channels_last"
                and keras.backend.backend() == "tensorflow")

    def call(self, inputs):
        if not self._depthwise_applies():
            return super().call(inputs)
        import tensorflow as tf

        kernel = tf.cast(self.kernel, self.compute_dtype)
        outputs = tf.reduce_sum(tf.nn.depthwise_conv2d(
            inputs, kernel, [1, 1, 1, 1], self.padding.upper()), axis=-1, keepdims=True)
        if self.use_bias:
            outputs = outputs + tf.cast(self.bias, self.compute_dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="gan_tf")
class ConditionalBatchNormalization(keras.layers.Layer):
    """Batch normalization whose scale and offset are learned per class.

    The features are normalized by a `FusedBatchNormalization` without its own scale and
    offset, then scaled by `gamma[y]` and shifted by `beta[y]` of each example's class `y`
    (de Vries et al., 2017; the class-conditional generators of Miyato and Koyama, 2018, and
    BigGAN). `gamma` starts at ones and `beta` at zeros, so the layer starts out as plain batch
    normalization. It is called on `[features, labels]`: features `(batch, ..., channels)` of
    rank 2 or 4, labels int32 class indices `(batch,)`.

    Example:
    ```python
    features, labels = keras.Input((8, 8, 64)), keras.Input((), dtype="int32")
    normalized = ConditionalBatchNormalization(num_classes=10)([features, labels])
    ```

    Args:
        num_classes: the number of classes, an integer >= 2.
        momentum: momentum of the moving statistics. Defaults to 0.9.
        epsilon: added to the variance. Defaults to 1e-3 (Keras's).
    """

    def __init__(self, num_classes, momentum=0.9, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                or num_classes < 2):
            raise invalid("num_classes", num_classes, "an integer >= 2")
        self.num_classes = num_classes
        self.momentum = momentum
        self.epsilon = epsilon
        self.batch_norm = FusedBatchNormalization(momentum=momentum, epsilon=epsilon,
                                                  center=False, scale=False,
                                                  name="batch_norm")

    def build(self, input_shape):
        features_shape = tuple(input_shape[0])
        channels = features_shape[-1]
        self.batch_norm.build(features_shape)
        self.gamma = self.add_weight(shape=(self.num_classes, channels), initializer="ones",
                                     name="gamma")
        self.beta = self.add_weight(shape=(self.num_classes, channels), initializer="zeros",
                                    name="beta")

    def call(self, inputs, training=None):
        features, labels = inputs
        normalized = self.batch_norm(features, training=training)
        labels = keras.ops.cast(labels, "int32")
        gamma = keras.ops.cast(keras.ops.take(self.gamma, labels, axis=0), normalized.dtype)
        beta = keras.ops.cast(keras.ops.take(self.beta, labels, axis=0), normalized.dtype)
        if len(normalized.shape) == 4:
            gamma, beta = gamma[:, None, None, :], beta[:, None, None, :]
        return normalized * gamma + beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "momentum": self.momentum, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="gan_tf")
class SelfAttention(keras.layers.Layer):
    """The self-attention block of SAGAN (Zhang et al., 2019), as BigGAN uses it.

    `x + gamma * o`, where `o` is a 1x1 convolution of `softmax(q k^T) v` over all positions
    of the feature map: queries `q` and keys `k` of `channels / 8` and values `v` of
    `channels / 2`, all 1x1 convolutions of `x`; keys and values are 2x2 max-pooled when the
    map's sides are even (BigGAN's saving: 4x fewer attention weights). `gamma` starts at 0,
    so the block starts as the identity. The attention logits and softmax are float32 under a
    mixed precision policy.

    Example:
    ```python
    features = keras.Input((16, 16, 64))
    attended = SelfAttention()(features)  # (None, 16, 16, 64)
    ```

    Args:
        spectral_norm: wrap the four convolutions in `keras.layers.SpectralNormalization`
            (in a discriminator with spectral normalization). Defaults to False.
    """

    def __init__(self, spectral_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.spectral_norm = spectral_norm

    def _convolution(self, filters, name):
        layer = keras.layers.Conv2D(filters, 1, use_bias=False, name=name)
        return keras.layers.SpectralNormalization(layer, name=f"{name}_sn") \
            if self.spectral_norm else layer

    def build(self, input_shape):
        height, width, channels = (int(d) for d in input_shape[1:])
        self._pool = height % 2 == 0 and width % 2 == 0
        self._positions = height * width
        self._pooled_positions = self._positions // 4 if self._pool else self._positions
        self._key_channels = max(1, channels // 8)
        self._value_channels = max(1, channels // 2)
        self.query = self._convolution(self._key_channels, "query")
        self.key = self._convolution(self._key_channels, "key")
        self.value = self._convolution(self._value_channels, "value")
        self.attention_output = self._convolution(channels, "attention_output")
        for layer in (self.query, self.key, self.value):
            layer.build(tuple(input_shape))
        self.attention_output.build((None, height, width, self._value_channels))
        self.gamma = self.add_weight(shape=(), initializer="zeros", name="gamma")

    def call(self, inputs, training=None):
        options = {"training": training} if self.spectral_norm else {}
        shape = keras.ops.shape(inputs)
        query = keras.ops.reshape(self.query(inputs, **options),
                                  (-1, self._positions, self._key_channels))
        key, value = self.key(inputs, **options), self.value(inputs, **options)
        if self._pool:
            key = keras.ops.max_pool(key, 2, 2)
            value = keras.ops.max_pool(value, 2, 2)
        key = keras.ops.reshape(key, (-1, self._pooled_positions, self._key_channels))
        value = keras.ops.reshape(value, (-1, self._pooled_positions, self._value_channels))
        logits = keras.ops.matmul(keras.ops.cast(query, "float32"),
                                  keras.ops.transpose(keras.ops.cast(key, "float32"),
                                                      (0, 2, 1)))
        weights = keras.ops.cast(keras.ops.softmax(logits, axis=-1), inputs.dtype)
        attended = keras.ops.reshape(keras.ops.matmul(weights, value),
                                     (shape[0], shape[1], shape[2], self._value_channels))
        output = self.attention_output(attended, **options)
        return inputs + keras.ops.cast(self.gamma, inputs.dtype) * output

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package="gan_tf")
class GlobalSumPooling2D(keras.layers.Layer):
    """The sum of a feature map over its positions: `(batch, h, w, c)` -> `(batch, c)`.

    SNGAN's and BigGAN's discriminators pool their last features by a sum, not a mean.

    Example:
    ```python
    pooled = GlobalSumPooling2D()(keras.Input((4, 4, 128)))  # (None, 128)
    ```
    """

    def call(self, inputs):
        return keras.ops.sum(inputs, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
