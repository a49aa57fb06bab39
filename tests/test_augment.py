"""DiffAugment's transformations, checked by hand on tiny images."""

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import augment


def ramp(batch=1, size=8, channels=1):
    values = np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1) / 64.0
    return np.tile(values, (batch, 1, 1, channels))


def test_translation_shifts_by_whole_pixels_and_zero_fills():
    images = ramp()  # 8x8: s = 1 pixel
    # u = 0.0 -> floor(0 * 3) - 1 = -1 (up); u = 0.99 -> floor(2.97) - 1 = +1 (right).
    shifted = augment.translation(images, np.array([[0.0, 0.99]], np.float32)).numpy()
    # Output (y, x) = input (y + 1, x - 1): rows move up one, columns right one.
    np.testing.assert_array_equal(shifted[0, :7, 1:, 0], images[0, 1:, :7, 0])
    assert not shifted[0, 7, :, 0].any() and not shifted[0, :, 0, 0].any()
    unchanged = augment.translation(images, np.array([[0.5, 0.5]], np.float32))
    np.testing.assert_array_equal(unchanged, images)  # floor(1.5) - 1 = 0


def test_cutout_zeroes_one_square_of_half_the_size():
    images = np.ones((2, 8, 8, 3), np.float32)
    # size 4 (even): centre = floor(u * (8 + 1)); u = 0.5 -> 4: rows 2..5, cols 2..5.
    out = augment.cutout(images, np.array([[0.5, 0.5], [0.0, 0.0]], np.float32)).numpy()
    hole = out[0, ..., 0] == 0
    assert hole.sum() == 16 and hole[2:6, 2:6].all()
    # Centre 0: the square is clipped to rows 0..1, cols 0..1.
    assert (out[1, ..., 0] == 0).sum() == 4 and (out[1, :2, :2] == 0).all()


def test_color_transformations_known_values():
    images = np.array([[[[0.0, 0.5, -0.5]]]], np.float32)  # one RGB pixel
    # brightness +0.25 (u0 = 0.75); saturation x1 (u1 = 0.5); contrast x1 (u2 = 0.5).
    out = augment.color(images, np.array([[0.75, 0.5, 0.5]], np.float32)).numpy()
    np.testing.assert_allclose(out, images + 0.25, atol=1e-6)
    # saturation x0 (u1 = 0): every channel becomes the pixel's channel mean.
    gray = augment.color(images, np.array([[0.5, 0.0, 0.5]], np.float32)).numpy()
    np.testing.assert_allclose(gray, np.zeros_like(images), atol=1e-6)


def test_diff_augment_is_differentiable_and_keeps_shape():
    images = tf.Variable(ramp(batch=3, channels=3))
    uniforms = np.random.default_rng(0).uniform(size=(3, augment.NUM_UNIFORMS))
    with tf.GradientTape() as tape:
        out = augment.diff_augment(images, tf.constant(uniforms, tf.float32))
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, images)
    assert out.shape == images.shape
    assert gradient is not None and np.isfinite(gradient.numpy()).all()
    assert np.abs(gradient.numpy()).sum() > 0


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
@pytest.mark.slow
def test_gan_trains_with_diffaugment(architecture):
    from test_gan import make_gan, real_images

    gan = make_gan(architecture=architecture, augment="diffaugment")
    history = gan.fit(real_images(16), epochs=1, batch_size=8, verbose=0)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    with pytest.raises(ValueError, match="augment='ada2'"):
        make_gan(augment="ada2")


@pytest.mark.slow
def test_d_sees_augmented_images():
    """The same step from the same weights and draws learns something else with DiffAugment
    (and exactly the same without)."""
    from test_gan import make_gan, real_images

    plain, twin, augmented = make_gan(), make_gan(), make_gan(augment="diffaugment")
    for model in (twin, augmented):
        model.generator.set_weights(plain.generator.get_weights())
        model.discriminator.set_weights(plain.discriminator.get_weights())
    for model in (plain, twin, augmented):
        model.fit(real_images(8), epochs=1, batch_size=8, verbose=0)
    after = [model.discriminator.get_weights() for model in (plain, twin, augmented)]
    assert all(np.array_equal(a, b) for a, b in zip(after[0], after[1]))
    assert any(not np.allclose(a, b) for a, b in zip(after[0], after[2]))


def ada_uniforms(batch, gates, params=0.3):
    """ADA draws: the 7 gates (x-flip, rotation, translation, brightness, saturation,
    contrast, cutout) set to 0 (on for any p > 0) where `gates` says so, else 0.99."""
    values = np.full((batch, augment.ADA_NUM_UNIFORMS), params, np.float32)
    values[:, :7] = [0.0 if on else 0.99 for on in gates]
    return tf.constant(values)


def test_ada_with_probability_zero_is_the_identity_and_one_applies_everything():
    images = tf.random.uniform((3, 8, 8, 2), -1, 1, seed=1)
    uniforms = tf.random.uniform((3, augment.ADA_NUM_UNIFORMS), seed=2)
    np.testing.assert_array_equal(augment.ada_augment(images, uniforms, 0.0), images)
    everything = augment.ada_augment(images, uniforms, 1.0)
    params = uniforms[:, 7:]
    expected = tf.reverse(images, axis=[2])
    turns = (np.floor(params[:, 0].numpy() * 3) + 1).astype(int)
    expected = tf.stack([tf.image.rot90(x, k=k) for x, k in zip(expected, turns)])
    expected = augment.translation(expected, params[:, 4:6])
    expected = augment.color(expected, params[:, 1:4])
    expected = augment.cutout(expected, params[:, 6:8])
    np.testing.assert_allclose(everything, expected, atol=1e-6)


@pytest.mark.parametrize("gate, expected", [
    (0, lambda x: x[:, :, ::-1]),  # x-flip
    (1, lambda x: np.rot90(x, k=1, axes=(1, 2))),  # params 0.3 -> one quarter turn
])
def test_ada_gates_apply_one_transform_each(gate, expected):
    images = np.random.default_rng(0).uniform(-1, 1, (2, 6, 6, 1)).astype(np.float32)
    gates = [index == gate for index in range(7)]
    result = augment.ada_augment(tf.constant(images), ada_uniforms(2, gates), 0.5)
    np.testing.assert_allclose(result, expected(images), atol=1e-6)
    # A draw at or above p leaves the image alone.
    np.testing.assert_array_equal(
        augment.ada_augment(tf.constant(images), ada_uniforms(2, gates), 0.0), images)


def test_ada_is_differentiable_and_skips_rotation_for_non_square_images():
    images = tf.random.uniform((2, 8, 12, 3), -1, 1, seed=3)
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = augment.ada_augment(images, tf.random.uniform((2, 15), seed=4), 0.7)
        total = tf.reduce_sum(out)
    assert out.shape == images.shape
    gradient = tape.gradient(total, images)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0
    only_rotation = ada_uniforms(2, [False, True] + [False] * 5)
    np.testing.assert_array_equal(augment.ada_augment(images, only_rotation, 0.5), images)


@pytest.mark.parametrize("signs_mean, expected", [(1.0, 64 / 1000), (0.6001, 64 / 1000),
                                                  (0.5, -64 / 1000), (-1.0, -64 / 1000)])
def test_ada_adjustment_steps_toward_the_target(signs_mean, expected):
    assert float(augment.ada_adjustment(signs_mean, 0.6, 64, 1000)) == pytest.approx(expected)
