"""Differentiable augmentation for small datasets: pure functions on images in [-1, 1].

DiffAugment (Zhao, Liu, Lin, Zhu and Han, "Differentiable Augmentation for Data-Efficient
GAN Training", NeurIPS 2020): D sees real and generated images through the same random,
differentiable transformations (colour, translation, cutout), so it cannot memorize a small
training set, and G's gradients flow back through the augmentation.

`ada_augment` applies the same transforms with an adaptive probability (ADA).

Every function takes its randomness as an argument (`uniforms`, values in [0, 1)), so it is
pure, testable by hand, and the caller decides where the randomness comes from (the GAN
draws it statelessly from (seed, step), so it is checkpointed like everything else).
"""

import tensorflow as tf

# Uniform draws each example needs: brightness, saturation, contrast, 2 for the
# translation, 2 for the cutout position.
NUM_UNIFORMS = 7
TRANSLATION_RATIO = 0.125  # shifts of up to 1/8 of the image size, as in DiffAugment
CUTOUT_RATIO = 0.5  # a square of half the image size, as in DiffAugment


def diff_augment(images, uniforms):
    """Colour, then translation, then cutout, each with its own per-example draws.

    Args:
        images: float `(batch, H, W, C)` in [-1, 1].
        uniforms: float `(batch, NUM_UNIFORMS)` in [0, 1).
    """
    images = color(images, uniforms[:, 0:3])
    images = translation(images, uniforms[:, 3:5])
    return cutout(images, uniforms[:, 5:7])


def color(images, uniforms):
    """Brightness `+ (u0 - 0.5)`, saturation `x (2 u1)`, contrast `x (u2 + 0.5)` around means."""
    u = tf.cast(uniforms, images.dtype)[:, None, None, :]
    images = images + (u[..., 0:1] - 0.5)
    channel_mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - channel_mean) * (2.0 * u[..., 1:2]) + channel_mean
    image_mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - image_mean) * (u[..., 2:3] + 0.5) + image_mean


def translation(images, uniforms, ratio=TRANSLATION_RATIO):
    """Shifts each image by whole pixels in [-s, s] (s = ratio * size), zero-filling the edge.

    `uniforms[:, 0]` picks the vertical shift and `uniforms[:, 1]` the horizontal one:
    shift = floor(u * (2s + 1)) - s.
    """
    height, width = images.shape[1], images.shape[2]
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = tf.cast(tf.floor(uniforms[:, 0] * (2 * shift_y + 1)), tf.int32) - shift_y
    dx = tf.cast(tf.floor(uniforms[:, 1] * (2 * shift_x + 1)), tf.int32) - shift_x
    padded = tf.pad(images, [[0, 0], [shift_y, shift_y], [shift_x, shift_x], [0, 0]])
    # Output pixel (y, x) reads padded pixel (y + shift - dy, x + shift - dx).
    rows = tf.range(height)[None, :] + shift_y - dy[:, None]  # (batch, H)
    cols = tf.range(width)[None, :] + shift_x - dx[:, None]  # (batch, W)
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def cutout(images, uniforms, ratio=CUTOUT_RATIO):
    """Zeroes a square of `ratio` x the image size, centred at a per-example position.

    The centre's row is `floor(u0 * (H + 1 - size % 2))` and column likewise with `u1`;
    the square is clipped at the borders, as in DiffAugment.
    """
    height, width = images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    center_y = tf.cast(tf.floor(uniforms[:, 0] * (height + (1 - size_y % 2))), tf.int32)
    center_x = tf.cast(tf.floor(uniforms[:, 1] * (width + (1 - size_x % 2))), tf.int32)
    top, left = center_y - size_y // 2, center_x - size_x // 2
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    inside_y = (rows >= top[:, None]) & (rows < top[:, None] + size_y)  # (batch, H)
    inside_x = (cols >= left[:, None]) & (cols < left[:, None] + size_x)  # (batch, W)
    hole = inside_y[:, :, None] & inside_x[:, None, :]
    return images * tf.cast(~hole, images.dtype)[..., None]


# ADA: uniform draws each example needs: 7 gates (x-flip, rotation, translation, brightness,
# saturation, contrast, cutout), then 1 for the rotation's quarter turns, 3 for the colour
# transforms, 2 for the translation, 2 for the cutout position.
ADA_NUM_UNIFORMS = 15


def ada_augment(images, uniforms, probability):
    """Adaptive augmentation: each transform applied to each image with `probability`.

    The augmentation of ADA (Karras, Aittala, Hellsten, Laine, Lehtinen and Aila, "Training
    Generative Adversarial Networks with Limited Data", NeurIPS 2020), with a smaller set of
    transforms: x-flip, rotation by 90/180/270 degrees (square images only), integer
    translation, brightness, saturation, contrast and cutout. The caller adapts
    `probability` (p) to D's overfitting; with p < 1 the augmented distribution still
    determines the clean one, so augmentations do not leak into G's samples. Every step is
    differentiable in `images`.

    Args:
        images: float `(batch, H, W, C)` in [-1, 1].
        uniforms: float `(batch, ADA_NUM_UNIFORMS)` in [0, 1): 7 gates then the parameters.
        probability: scalar p in [0, 1].
    """
    probability = tf.cast(probability, uniforms.dtype)
    gates = uniforms[:, :7] < probability  # (batch, 7)
    params = uniforms[:, 7:]

    def select(gate, transformed, original):
        return tf.where(gate[:, None, None, None], transformed, original)

    images = select(gates[:, 0], tf.reverse(images, axis=[2]), images)
    if images.shape[1] == images.shape[2]:
        quarter_turns = tf.cast(tf.floor(params[:, 0] * 3), tf.int32) + 1  # 1, 2 or 3
        rotated = images
        for turns in (1, 2, 3):
            rotated = tf.where((quarter_turns == turns)[:, None, None, None],
                               tf.image.rot90(images, k=turns), rotated)
        images = select(gates[:, 1], rotated, images)
    images = select(gates[:, 2], translation(images, params[:, 4:6]), images)
    # Colour: a transform gated off gets the draw 0.5, its identity (shift 0, scale 1).
    colour_draws = tf.where(gates[:, 3:6], params[:, 1:4], 0.5)
    images = select(tf.reduce_any(gates[:, 3:6], axis=1), color(images, colour_draws), images)
    return select(gates[:, 6], cutout(images, params[:, 6:8]), images)


def ada_adjustment(real_signs_mean, target, images_seen, ramp_images):
    """How much ADA's p moves after a batch: `sign(r_t - target) * images / ramp_images`.

    `r_t = E[sign(D(x_real))]` (here over the batch's augmented real images) is D's
    overfitting heuristic: it tends to 1 as D grows sure of every training image.
    """
    return (tf.sign(tf.cast(real_signs_mean, tf.float32) - target)
            * tf.cast(images_seen, tf.float32) / float(ramp_images))
