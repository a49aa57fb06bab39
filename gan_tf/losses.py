"""Adversarial losses and D regularizers: pure functions (TF-GAN naming).

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
    """`E[log(1 - D(G(z)))]`: the original G objective, minimized (saturating).

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


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """`E[D(G(z))] - E[D(x)]`: the critic's side of the Wasserstein-1 estimate.

    Arjovsky, Chintala and Bottou, "Wasserstein GAN", 2017. D must be kept Lipschitz:
    use it with `--gradient_penalty` (Gulrajani et al., 2017) or `--spectral_norm`.
    """
    return tf.reduce_mean(_float(fake_logits)) - tf.reduce_mean(_float(real_logits))


def wasserstein_generator_loss(fake_logits):
    """`-E[D(G(z))]` (Arjovsky et al., 2017)."""
    return -tf.reduce_mean(_float(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits):
    """`E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]` (Lim and Ye 2017; Miyato et al. 2018)."""
    return tf.reduce_mean(tf.nn.relu(1.0 - _float(real_logits))) + tf.reduce_mean(
        tf.nn.relu(1.0 + _float(fake_logits)))


def hinge_generator_loss(fake_logits):
    """`-E[D(G(z))]`, the generator side of the hinge loss (Miyato et al., 2018)."""
    return -tf.reduce_mean(_float(fake_logits))


def least_squares_discriminator_loss(real_logits, fake_logits):
    """`E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2`: LSGAN with targets 1 and 0 (Mao et al., 2017)."""
    return 0.5 * tf.reduce_mean(tf.square(_float(real_logits) - 1.0)) + 0.5 * tf.reduce_mean(
        tf.square(_float(fake_logits)))


def least_squares_generator_loss(fake_logits):
    """`E[(D(G(z)) - 1)^2] / 2` (Mao et al., "Least Squares GANs", 2017)."""
    return 0.5 * tf.reduce_mean(tf.square(_float(fake_logits) - 1.0))


def gradient_penalty(discriminator, real_images, fake_images, interpolation, epsilon=1e-12):
    """WGAN-GP: `E[(||grad D(x_hat)||_2 - 1)^2]` at `x_hat = x + u (G(z) - x)`.

    Gulrajani et al., "Improved Training of Wasserstein GANs", 2017. `interpolation` holds
    one `u ~ Uniform[0, 1]` per example, shape `(batch,)` (the caller draws it, so this stays
    a pure function). `epsilon` inside the square root keeps the gradient of the norm finite
    where the gradient vanishes.
    """
    real_images, fake_images = _float(real_images), _float(fake_images)
    u = tf.reshape(_float(interpolation), [-1] + [1] * (len(real_images.shape) - 1))
    mixed = real_images + u * (fake_images - real_images)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        logits = discriminator(mixed, training=True)
    gradients = tape.gradient(logits, mixed)
    axes = list(range(1, len(gradients.shape)))
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=axes) + epsilon)
    return tf.reduce_mean(tf.square(norms - 1.0))


def r1_penalty(discriminator, real_images):
    """R1: `E[||grad D(x)||_2^2] / 2` on real images (Mescheder et al., 2018).

    Multiply by gamma (`--r1_penalty`); the loss adds `gamma * r1_penalty(D, x)`.
    """
    real_images = _float(real_images)
    with tf.GradientTape() as tape:
        tape.watch(real_images)
        logits = discriminator(real_images, training=True)
    gradients = tape.gradient(logits, real_images)
    axes = list(range(1, len(gradients.shape)))
    return 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(gradients), axis=axes))


def mode_seeking_penalty(images, latents, epsilon=1e-5):
    """Mode seeking: `1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + epsilon)`, to minimize.

    Mao et al., "Mode Seeking Generative Adversarial Networks for Diverse Image Synthesis",
    CVPR 2019, eq. 3. `images` are `G(latents)`; the first half of the batch is paired with
    the second half (pair i is images i and i + n // 2; with an odd batch the last image is
    left out), so the caller draws both halves for the same labels when G is conditional.
    Small when different latents give different images: it pushes G to spread its latents
    over more of the data instead of collapsing them. 0 for a batch of fewer than 2 images.
    """
    images, latents = _float(images), _float(latents)
    half = tf.shape(images)[0] // 2
    image_gap = tf.abs(images[:half] - images[half:2 * half])
    latent_gap = tf.abs(latents[:half] - latents[half:2 * half])
    ratio = _mean_or_zero(image_gap) / (_mean_or_zero(latent_gap) + 1e-12)
    return tf.where(half > 0, 1.0 / (ratio + epsilon), 0.0)


def _mean_or_zero(values):
    """The mean of `values`; 0 (not reduce_mean's NaN) when empty, so gradients stay finite."""
    return tf.reduce_sum(values) / tf.maximum(tf.cast(tf.size(values), tf.float32), 1.0)


_LOSSES = {
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss, wasserstein_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
    "least_squares": (least_squares_generator_loss, least_squares_discriminator_loss),
}

# The D output above which an image counts as "real" in the accuracy metrics: the sign of the
# logit (or critic value), except least squares, whose targets are 0 and 1.
_DECISION_THRESHOLDS = {"least_squares": 0.5}


def decision_threshold(name):
    """Where D's output separates "real" from "fake" for the accuracy metrics of loss `name`."""
    get(name)
    return _DECISION_THRESHOLDS.get(name, 0.0)


def get(name):
    """`(generator_loss, discriminator_loss)` for a loss name, e.g. `get("minimax")`."""
    if name not in _LOSSES:
        raise invalid("loss", name, "one of " + ", ".join(repr(n) for n in _LOSSES))
    return _LOSSES[name]


def names():
    return tuple(_LOSSES)


def _float(logits):
    return tf.cast(logits, tf.float32)
