"""`gan_tf.layers`: Keras's batch normalization through the fused kernel, and the convolution
to one channel as a depthwise one, both against Keras's own layers; the residual networks'
conditional batch normalization, self-attention and sum pooling against their formulas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf.layers import (ConditionalBatchNormalization, FusedBatchNormalization,
                           GlobalSumPooling2D, SelfAttention)


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


def test_fused_batch_normalization_without_scale_and_offset_matches_keras():
    shape = (8, 5, 5, 4)
    keras_layer = keras.layers.BatchNormalization(center=False, scale=False)
    fused = FusedBatchNormalization(center=False, scale=False)
    x = tf.constant(np.random.default_rng(2).normal(1.0, 2.0, shape).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        expected, y = keras_layer(x, training=True), fused(x, training=True)
        losses = [tf.reduce_sum(tf.sin(t) * t) for t in (expected, y)]
    np.testing.assert_allclose(y, expected, atol=1e-4)
    np.testing.assert_allclose(tape.gradient(losses[1], x), tape.gradient(losses[0], x),
                               atol=1e-3)
    np.testing.assert_allclose(fused.moving_variance, keras_layer.moving_variance, rtol=1e-5)


def test_conditional_batch_normalization_is_batch_norm_then_the_class_scale_and_offset():
    layer = ConditionalBatchNormalization(3, momentum=0.8)
    x = tf.constant(np.random.default_rng(3).normal(2.0, 3.0, (6, 4, 4, 5)).astype("float32"))
    labels = tf.constant([0, 1, 2, 2, 1, 0])
    layer([x, labels])
    assert (layer.gamma.numpy() == 1).all() and (layer.beta.numpy() == 0).all()
    rng = np.random.default_rng(4)
    gamma, beta = rng.normal(1, 0.5, (3, 5)), rng.normal(0, 1, (3, 5))
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    mean, variance = x.numpy().mean(axis=(0, 1, 2)), x.numpy().var(axis=(0, 1, 2))
    normalized = (x.numpy() - mean) / np.sqrt(variance + 1e-3)
    expected = normalized * gamma[labels.numpy()][:, None, None] + beta[labels.numpy()][
        :, None, None]
    np.testing.assert_allclose(layer([x, labels], training=True), expected, atol=1e-4)
    np.testing.assert_allclose(layer.batch_norm.moving_mean, 0.2 * mean, rtol=1e-5)
    # Features of rank 2 too, and a Keras file round trip of its config.
    flat = ConditionalBatchNormalization(4)([tf.ones((2, 7)), tf.constant([1, 3])])
    assert flat.shape == (2, 7)
    assert ConditionalBatchNormalization.from_config(layer.get_config()).get_config()[
        "num_classes"] == 3
    with pytest.raises(ValueError, match="num_classes"):
        ConditionalBatchNormalization(1)


def test_self_attention_is_sagans_formula():
    layer = SelfAttention()
    x = tf.random.normal((2, 4, 6, 16), seed=5)
    np.testing.assert_array_equal(layer(x), x)  # gamma starts at 0
    layer.gamma.assign(0.7)
    query, key, value, output = (layer.query.kernel.numpy()[0, 0], layer.key.kernel.numpy()[0, 0],
                                 layer.value.kernel.numpy()[0, 0],
                                 layer.attention_output.kernel.numpy()[0, 0])
    assert (query.shape, value.shape, output.shape) == ((16, 2), (16, 8), (8, 16))
    pixels = x.numpy()

    def pooled(maps):  # 2x2 max pooling of keys and values
        return maps.reshape(2, 2, 2, 3, 2, -1).max(axis=(2, 4)).reshape(2, 6, -1)

    q = (pixels @ query).reshape(2, 24, 2)
    k, v = pooled(pixels @ key), pooled(pixels @ value)
    logits = q @ k.transpose(0, 2, 1)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = pixels + 0.7 * ((weights @ v) @ output).reshape(2, 4, 6, 16)
    np.testing.assert_allclose(layer(x), expected, atol=1e-4)
    odd = SelfAttention(spectral_norm=True)  # odd sides: no pooling
    assert odd(tf.ones((1, 3, 5, 8)), training=True).shape == (1, 3, 5, 8)
    assert isinstance(odd.query, keras.layers.SpectralNormalization)


def test_global_sum_pooling():
    x = tf.reshape(tf.range(24, dtype=tf.float32), (1, 2, 3, 4))
    np.testing.assert_array_equal(GlobalSumPooling2D()(x), tf.reduce_sum(x, axis=(1, 2)))
