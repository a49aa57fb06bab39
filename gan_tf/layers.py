"""Keras layers of gan_tf's networks that Keras does not offer as fast as they could be."""

import keras


@keras.saving.register_keras_serializable(package="gan_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that trains through TensorFlow's fused kernel.

    Keras 3 normalizes a training batch with separate moment, subtraction, scaling and
    shift operations (and as many in the backward pass); TensorFlow's `FusedBatchNormV3`
    does each pass in one kernel. Same computation, same variables, same moving-average
    updates as Keras's layer (the moving variance takes the biased batch variance, as
    Keras's does), up to float32 rounding; measured 2-3x faster on the DCGAN's feature maps
    on CPU (BUILD_NOTES.md). Inference, masks, renormalization, synchronized statistics,
    another axis than the last, inputs of rank other than 2 or 4, and other backends fall
    back to Keras's own computation.

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
                and not self.synchronized and self.center and self.scale
                and rank in (2, 4) and self.axis in (-1, rank - 1)
                and keras.backend.backend() == "tensorflow")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # As Keras does: statistics in float32 whatever the compute dtype.
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        as_4d = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        normalized, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            as_4d, tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32),
            epsilon=self.epsilon, is_training=True)
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
