"""Known values on fixed logits, computed by hand with math (not with the code under test)."""

import math

import numpy as np
import pytest

from gan_tf import losses

REAL = [0.0, 2.0, -1.5]
FAKE = [-1.0, 1.0, 0.5]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def mean(values):
    return sum(values) / len(values)


def test_minimax_discriminator_loss_is_minus_the_value_function():
    expected = -(mean([math.log(sigmoid(r)) for r in REAL])
                 + mean([math.log(1 - sigmoid(f)) for f in FAKE]))
    assert float(losses.minimax_discriminator_loss(REAL, FAKE)) == pytest.approx(expected, 1e-6)


def test_minimax_generator_loss_is_log_one_minus_d():
    expected = mean([math.log(1 - sigmoid(f)) for f in FAKE])
    value = float(losses.minimax_generator_loss(FAKE))
    assert value == pytest.approx(expected, 1e-6)
    assert value < 0


def test_non_saturating_generator_loss_is_minus_log_d():
    expected = mean([-math.log(sigmoid(f)) for f in FAKE])
    assert float(losses.non_saturating_generator_loss(FAKE)) == pytest.approx(expected, 1e-6)


def test_non_saturating_discriminator_loss_equals_minimax():
    assert float(losses.non_saturating_discriminator_loss(REAL, FAKE)) == pytest.approx(
        float(losses.minimax_discriminator_loss(REAL, FAKE)))


def test_losses_are_stable_for_extreme_logits():
    big = [80.0, -80.0]
    for value in (losses.minimax_discriminator_loss(big, big),
                  losses.minimax_generator_loss(big),
                  losses.non_saturating_generator_loss(big)):
        assert np.isfinite(float(value))
    # -log(sigmoid(-80)) = 80 exactly enough.
    assert float(losses.non_saturating_generator_loss([-80.0])) == pytest.approx(80.0)


def test_saturation_minimax_gradient_vanishes_non_saturating_does_not():
    import tensorflow as tf

    logits = tf.Variable([-10.0])  # D confidently rejects the sample
    gradients = {}
    for name in ("minimax", "non_saturating"):
        with tf.GradientTape() as tape:
            loss = losses.get(name)[0](logits)
        gradients[name] = abs(float(tape.gradient(loss, logits)[0]))
    assert gradients["minimax"] < 1e-4 < 0.99 < gradients["non_saturating"]


def test_get_unknown_name():
    with pytest.raises(ValueError, match="Received: loss='hinge2'"):
        losses.get("hinge2")


def test_wasserstein_known_values():
    assert float(losses.wasserstein_discriminator_loss(REAL, FAKE)) == pytest.approx(
        mean(FAKE) - mean(REAL))
    assert float(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(-mean(FAKE))


def test_hinge_known_values():
    expected = mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE])
    assert float(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(expected)
    assert float(losses.hinge_generator_loss(FAKE)) == pytest.approx(-mean(FAKE))


def test_least_squares_known_values():
    expected = 0.5 * mean([(r - 1) ** 2 for r in REAL]) + 0.5 * mean([f ** 2 for f in FAKE])
    assert float(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(expected)
    assert float(losses.least_squares_generator_loss(FAKE)) == pytest.approx(
        0.5 * mean([(f - 1) ** 2 for f in FAKE]))


def half_square_discriminator(images, training=False):
    """D(x) = sum(x^2) / 2, so grad D(x) = x: penalties become hand-computable."""
    import tensorflow as tf

    return tf.reduce_sum(tf.square(images), axis=[1, 2, 3]) / 2


def test_gradient_penalty_interpolates_per_sample_and_knows_its_value():
    real = np.array([1.0, 2.0]).reshape(2, 1, 1, 1)
    fake = np.array([3.0, 0.0]).reshape(2, 1, 1, 1)
    # x_hat = x + u (G(z) - x) = [1 + 0.5 * 2, 2 + 0.25 * -2] = [2, 1.5]; grad = x_hat.
    value = losses.gradient_penalty(half_square_discriminator, real, fake, [0.5, 0.25])
    assert float(value) == pytest.approx(((2 - 1) ** 2 + (1.5 - 1) ** 2) / 2, rel=1e-6)


def test_gradient_penalty_epsilon_keeps_gradients_finite_at_zero():
    import tensorflow as tf

    scale = tf.Variable(1.0)
    discriminator = lambda x, training=False: scale * half_square_discriminator(x)  # noqa
    zeros = np.zeros((2, 1, 1, 1))
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(discriminator, zeros, zeros, [0.3, 0.7])
    gradient = tape.gradient(penalty, scale)
    assert float(penalty) == pytest.approx(1.0, abs=1e-5)  # (0 - 1)^2
    assert np.isfinite(float(gradient))


def test_r1_penalty_known_value():
    real = np.array([1.0, 2.0]).reshape(2, 1, 1, 1)
    assert float(losses.r1_penalty(half_square_discriminator, real)) == pytest.approx(
        0.5 * mean([1.0, 4.0]))


def test_mode_seeking_penalty_known_value_pairs_the_two_halves():
    # Pairs (0, 2) and (1, 3); the fifth image of an odd batch is left out.
    images = np.array([0.0, 1.0, 2.0, 4.0, 9.0]).reshape(5, 1, 1, 1)
    latents = np.array([[0, 0], [1, 1], [1, 0], [1, 3], [7, 7]], dtype=np.float32)
    image_gap = mean([abs(0 - 2), abs(1 - 4)])  # 2.5
    latent_gap = mean([1, 0, 0, 2])  # 0.75
    value = losses.mode_seeking_penalty(images, latents)
    assert float(value) == pytest.approx(1 / (image_gap / latent_gap + 1e-5), rel=1e-6)
    # More different images for the same latents: a smaller penalty.
    assert float(losses.mode_seeking_penalty(3 * images, latents)) < float(value)


def test_mode_seeking_penalty_of_one_image_is_zero_with_finite_gradients():
    import tensorflow as tf

    scale = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        penalty = losses.mode_seeking_penalty(scale * tf.ones((1, 2, 2, 1)), tf.ones((1, 3)))
    assert float(penalty) == 0.0
    assert float(tape.gradient(penalty, scale)) == 0.0  # not NaN: no pair, no push


def test_decision_thresholds():
    assert losses.decision_threshold("least_squares") == 0.5
    assert losses.decision_threshold("hinge") == 0.0
    with pytest.raises(ValueError):
        losses.decision_threshold("nope")
