"""Adversarial losses: pure functions on discriminator logits (TF-GAN naming).

`D(x) = sigmoid(logit)`. Every function returns the mean over the examples it is given; the
GAN model divides by the number of replicas so gradients summed across replicas are the
gradient of the global-batch mean. Written with `softplus`, which is exact and stable:
`-log(sigmoid(l)) = softplus(-l)` and `-log(1 - sigmoid(l)) = softplus(l)`.
"""

import tensorflow as tf

from gan_tf.errors import invalid


def minimax_discriminator_loss(real_logits, fake_logits):
    """`-(E[log D(x)] + E[log(1 - D(G(z)))])`: D ascends the minimax value (Goodfellow 2014)."""
    real_logits, fake_logits = _float(real_logits), _float(fake_logits)
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
        tf.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """`E[log(1 - D(G(z)))]`: the design note's G objective, minimized (saturating).

    Goodfellow et al., "Generative Adversarial Nets", 2014, eq. 1. Its gradient vanishes
    when D confidently rejects the samples, which is why `non_saturating` is the default.
    """
    return -tf.reduce_mean(tf.nn.softplus(_float(fake_logits)))


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """The same D loss as minimax: `-(E[log D(x)] + E[log(1 - D(G(z)))])`."""
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """`-E[log D(G(z))]`: same fixed point, strong early gradients (Goodfellow 2014, sec. 3)."""
    return tf.reduce_mean(tf.nn.softplus(-_float(fake_logits)))


_LOSSES = {
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
}


def get(name):
    """`(generator_loss, discriminator_loss)` for a loss name, e.g. `get("minimax")`."""
    if name not in _LOSSES:
        raise invalid("loss", name, "one of " + ", ".join(repr(n) for n in _LOSSES))
    return _LOSSES[name]


def names():
    return tuple(_LOSSES)


def _float(logits):
    return tf.cast(logits, tf.float32)
