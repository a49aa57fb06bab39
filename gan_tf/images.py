"""Pixels: the one inverse of the [-1, 1] mapping, image grids, PNG and GIF files."""

import io
import math

import numpy as np

from gan_tf.errors import invalid
from gan_tf.files import atomic_write_bytes


def to_uint8(images, value_range=(-1.0, 1.0)):
    """Images in `value_range` (default [-1, 1]) -> uint8 numpy pixels in [0, 255]."""
    low, high = value_range
    images = np.asarray(images, dtype=np.float32)
    scaled = (images - low) / (high - low) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def make_grid(pixels, num_rows, padding=2, pad_value=255):
    """Tiles uint8 images `(N, H, W, C)` into one `(rows*H, cols*W, C)` image, row by row."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 4:
        raise invalid("pixels", f"array of shape {pixels.shape}", "a 4-D array (N, H, W, C)")
    if not isinstance(num_rows, int) or num_rows <= 0:
        raise invalid("num_rows", num_rows, "a positive integer")
    count, height, width, channels = pixels.shape
    num_cols = math.ceil(count / num_rows)
    grid = np.full(
        (num_rows * (height + padding) + padding, num_cols * (width + padding) + padding, channels),
        pad_value,
        dtype=np.uint8,
    )
    for index in range(count):
        row, col = divmod(index, num_cols)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top:top + height, left:left + width] = pixels[index]
    return grid


def encode_png(pixels):
    """uint8 `(H, W, C)` -> PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(_squeeze_gray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(pixels, path):
    """Writes uint8 `(H, W, C)` pixels to `path` as PNG, atomically."""
    atomic_write_bytes(path, encode_png(pixels))


def read_png(path):
    """Reads a PNG written by `save_png` back as uint8 `(H, W, C)`."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def save_gif(frames, path, frame_seconds=0.2, last_frame_seconds=2.0):
    """Writes uint8 `(H, W, C)` frames to `path` as a looping animated GIF, atomically."""
    from PIL import Image

    if not frames:
        raise invalid("frames", frames, "at least one frame")
    images = [Image.fromarray(_squeeze_gray(frame)) for frame in frames]
    durations = [int(frame_seconds * 1000)] * (len(images) - 1) + [int(last_frame_seconds * 1000)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0)
    atomic_write_bytes(path, buffer.getvalue())


def _squeeze_gray(pixels):
    pixels = np.asarray(pixels, dtype=np.uint8)
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels
