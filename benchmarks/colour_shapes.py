"""Builds, offline, a labelled colour dataset of shapes: a PNG folder or a .npz, any size.

    python benchmarks/colour_shapes.py --output=/tmp/shapes --count=5000 --size=64x48
    python -m gan_tf.train --dataset=folder:/tmp/shapes --architecture=resnet ...

Real colour datasets cannot be downloaded on the project's machines; this one stands in for
them in end-to-end runs and benchmarks. Six classes (circle, square, triangle, ring, cross,
star), one filled shape per image in a random saturated colour, at a random position, scale
(30-70% of the shorter side) and rotation, over a background of two random dark colours in
a linear gradient with mild noise. Drawn with Pillow at 4x and downsampled with Lanczos, so
edges are antialiased. Sizes may be non-square (`WIDTHxHEIGHT`). All randomness comes from
`numpy.random.default_rng([seed, index])`: each image is a function of (seed, its index),
so any count is a prefix of a larger one and folders can be written in parallel.

A folder holds `<class>/<index>.png` (labels from the sub-folders, as gan_tf reads them);
a path ending in .npz gets `images` uint8 (N, H, W, 3), `labels` and `class_names`.
"""

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES = ("circle", "square", "triangle", "ring", "cross", "star")
SCALE = 4  # drawing resolution factor


def parse_size(text):
    """'64' -> (64, 64); '64x48' -> (64, 48) as (width, height): gan_tf's --image_size
    parser (`image_files.image_height_width`), at least 8 pixels a side."""
    from gan_tf.image_files import image_height_width

    height, width = image_height_width(text)
    if min(height, width) < 8:
        raise ValueError(f"--size={text}: expected sides of at least 8 pixels")
    return width, height


def _polygon(center, radius, corners, angle, inner=None):
    points = []
    step = 2 * math.pi / corners
    for k in range(corners):
        for r, offset in ((radius, 0.0),) + (((inner, step / 2),) if inner else ()):
            a = angle + k * step + offset
            points.append((center[0] + r * math.cos(a), center[1] + r * math.sin(a)))
    return points


def draw(label, size, rng):
    """One uint8 (H, W, 3) image of class `label` at `size` (width, height)."""
    width, height = size
    big_w, big_h = width * SCALE, height * SCALE
    low, high = rng.integers(0, 90, 3), rng.integers(0, 90, 3)
    ramp = np.linspace(0, 1, big_w if rng.random() < 0.5 else big_h)
    ramp = ramp[None, :, None] if len(ramp) == big_w else ramp[:, None, None]
    background = low + (high - low) * ramp
    background = np.broadcast_to(background, (big_h, big_w, 3)).astype(np.float32)
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    hue = rng.random()
    colour = tuple(int(255 * c) for c in _hsv_to_rgb(hue, 0.55 + 0.45 * rng.random(),
                                                     0.75 + 0.25 * rng.random()))
    radius = min(big_w, big_h) * (0.15 + 0.2 * rng.random())
    center = (big_w / 2 + (rng.random() - 0.5) * (big_w - 2 * radius),
              big_h / 2 + (rng.random() - 0.5) * (big_h - 2 * radius))
    angle = rng.random() * 2 * math.pi
    pen = ImageDraw.Draw(image)
    box = [center[0] - radius, center[1] - radius, center[0] + radius, center[1] + radius]
    name = CLASS_NAMES[label]
    if name == "circle":
        pen.ellipse(box, fill=colour)
    elif name == "square":
        pen.polygon(_polygon(center, radius, 4, angle), fill=colour)
    elif name == "triangle":
        pen.polygon(_polygon(center, radius, 3, angle), fill=colour)
    elif name == "ring":
        pen.ellipse(box, outline=colour, width=max(2, int(radius * 0.35)))
    elif name == "cross":
        arm = radius * 0.32
        for k in range(2):
            a = angle + k * math.pi / 2
            dx, dy = math.cos(a), math.sin(a)
            pen.polygon([(center[0] + s * radius * dx + t * arm * -dy,
                          center[1] + s * radius * dy + t * arm * dx)
                         for s, t in ((1, 1), (1, -1), (-1, -1), (-1, 1))], fill=colour)
    else:  # star
        pen.polygon(_polygon(center, radius, 5, angle, inner=radius * 0.45), fill=colour)
    pixels = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), np.float32)
    pixels += rng.normal(0, 4, pixels.shape)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def _hsv_to_rgb(h, s, v):
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def image(index, size, seed=0):
    """`(pixels, label)` of image `index`: classes cycle, so any prefix is balanced."""
    label = index % len(CLASS_NAMES)
    return draw(label, size, np.random.default_rng([seed, index])), label


def make_arrays(count, size, seed=0):
    """`(images (N, H, W, 3) uint8, labels (N,) int64)`."""
    pairs = [image(index, size, seed) for index in range(count)]
    return (np.stack([p for p, _ in pairs]),
            np.array([label for _, label in pairs], np.int64))


def _write_range(args):
    root, start, stop, size, seed = args
    for index in range(start, stop):
        pixels, label = image(index, size, seed)
        Image.fromarray(pixels, "RGB").save(
            os.path.join(root, CLASS_NAMES[label], f"{index:07d}.png"), compress_level=1)
    return stop - start


def write_folder(root, count, size, seed=0, processes=None):
    """Writes `count` PNGs under `root/<class>/`; returns `root`."""
    for name in CLASS_NAMES:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    processes = processes or max(1, len(os.sched_getaffinity(0)))
    chunk = max(1, -(-count // (processes * 8)))
    jobs = [(root, start, min(count, start + chunk), size, seed)
            for start in range(0, count, chunk)]
    if processes == 1 or len(jobs) == 1:
        for job in jobs:
            _write_range(job)
    else:
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_write_range, jobs))
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="a new folder, or a path ending in .npz")
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--size", default="32", help="N or WIDTHxHEIGHT, e.g. 64x48")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    if os.path.exists(args.output):
        sys.exit(f"{args.output} exists; pass a new path (nothing was changed)")
    started = time.perf_counter()
    if args.output.endswith(".npz"):
        images, labels = make_arrays(args.count, size, args.seed)
        np.savez_compressed(args.output, images=images, labels=labels,
                            class_names=np.array(CLASS_NAMES))
    else:  # written beside, then renamed: an interrupted run leaves no half folder
        write_folder(args.output + ".partial", args.count, size, args.seed)
        os.rename(args.output + ".partial", args.output)
    print(f"{args.count} images {size[0]}x{size[1]}x3, {len(CLASS_NAMES)} classes, "
          f"{time.perf_counter() - started:.1f} s -> {args.output}")


if __name__ == "__main__":
    main()
