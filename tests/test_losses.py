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
