"""`gan_tf.layers`: Keras's batch normalization through the fused kernel, and the convolution
to one channel as a depthwise one; both against Keras's own layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf.layers import FusedBatchNormalization


def _pair(shape, momentum=0.9):
    keras_layer = keras.layers.BatchNormalization(momentum=momentum)
    fused = FusedBatchNormalization(momentum=momentum)
    keras_layer.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    gamma = rng.uniform(0.5, 1.5, shape[-1]).astype("float32")
    beta = rng.normal(size=shape[-1]).astype("float32")
    for layer in (keras_layer, fused):  # the same non-trivial parameters in both
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return keras_layer, fused


def _train_pass(layer):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y) * y)
        return y, tape.gradient(loss, [x, layer.gamma, layer.beta])

    return step


@pytest.mark.parametrize("shape", [(16, 7, 7, 8), (16, 24), (1, 5)])
def test_training_matches_keras_batch_normalization(shape):
    keras_layer, fused = _pair(shape)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    keras_step, fused_step = _train_pass(keras_layer), _train_pass(fused)
    for _ in range(2):  # the second pass starts from updated moving statistics
        expected_y, expected_grads = keras_step(x)
        y, grads = fused_step(x)
    np.testing.assert_allclose(y, expected_y, atol=1e-4)
    for got, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fused.moving_mean, keras_layer.moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance, keras_layer.moving_variance, rtol=1e-5,
                               atol=1e-6)
    assert np.all(np.isfinite(fused.moving_variance))  # one value per channel: variance 0
    # Inference uses the moving statistics, through Keras's own code.
    np.testing.assert_allclose(fused(x, training=False), keras_layer(x, training=False),
                               atol=1e-5)


def test_mixed_precision_keeps_float32_statistics_and_returns_the_compute_dtype():
    layer = FusedBatchNormalization(dtype="mixed_bfloat16")
    x = tf.random.normal((8, 4, 4, 3), dtype=tf.bfloat16)
    y = layer(x, training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"


def test_masks_and_renorm_fall_back_to_keras():
    keras_layer, fused = _pair((4, 6, 3))  # rank 3: not fused
    x = tf.random.normal((4, 6, 3))
    np.testing.assert_array_equal(fused(x, training=True), keras_layer(x, training=True))


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, FusedBatchNormalization(momentum=0.8, name="bn")(inputs))
    model.get_layer("bn").moving_mean.assign([1.0, 2.0])
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    layer = loaded.get_layer("bn")
    assert isinstance(layer, FusedBatchNormalization) and layer.momentum == 0.8
    np.testing.assert_array_equal(layer.moving_mean, [1.0, 2.0])


@pytest.mark.parametrize("filters, padding", [(1, "same"), (1, "valid"), (3, "same")])
def test_to_image_convolution_matches_keras_conv2d(filters, padding):
    from gan_tf.layers import ToImageConv2D

    x = tf.constant(np.random.default_rng(2).normal(size=(4, 9, 9, 5)).astype("float32"))
    reference = keras.layers.Conv2D(filters, 4, padding=padding, activation="tanh")
    layer = ToImageConv2D(filters, 4, padding=padding, activation="tanh")
    reference.build(x.shape)
    layer.build(x.shape)
    layer.kernel.assign(reference.kernel)
    layer.bias.assign(np.arange(filters, dtype="float32") * 0.1)
    reference.bias.assign(layer.bias)

    def value_and_grads(model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x)
            loss = tf.reduce_sum(tf.sin(y))
        return y, tape.gradient(loss, [x, model.kernel, model.bias])

    y, grads = value_and_grads(layer)
    expected_y, expected_grads = value_and_grads(reference)
    assert y.shape == expected_y.shape
    np.testing.assert_allclose(y, expected_y, atol=1e-5)
    for got, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(got, expected, atol=1e-4)
