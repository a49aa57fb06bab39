"""Builds, offline, a small labelled dataset of printed capital letters (not digits).

    python benchmarks/letters_dataset.py --output=/tmp/letters.npz [--per_class=500] [--seed=0]
    python -m gan_tf.train --dataset=array:/tmp/letters.npz ...

Checks that a data-augmentation pipeline tuned on handwritten digits carries over to data of
another kind. Ten classes, the letters A B C D E F G H J K (no I), as 28x28 grayscale uint8
images in the MNIST convention: white glyph (up to 255) on a black (0) background.

Each image is drawn with Pillow from one of the TrueType fonts that ship with matplotlib
(DejaVu, STIX, Computer Modern; those whose glyphs for the ten letters are the letters), at
4x resolution, with a random font, rotation (+-15 degrees), shear, stroke thickness, size
(the glyph spans 14-24 px), position jitter and mild blur, then downsampled with antialiasing.
All randomness comes from `numpy.random.default_rng(seed)`: the file is a function of the seed.

Writes a .npz with `images` uint8 (N, 28, 28, 1), `labels` int64 (N,) and `class_names`,
balanced over classes and shuffled, then prints one line: count, shape, seconds, fonts.
"""

import argparse
import glob
import os
import time

import matplotlib
import numpy as np
from matplotlib.ft2font import FT2Font
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CLASS_NAMES = list("ABCDEFGHJK")
SIZE, SCALE = 28, 4  # output side; drawing resolution factor
BIG = SIZE * SCALE
FONT_SIZE = 128  # glyphs are drawn at this size, then resized to their span
FONT_PATTERNS = ("DejaVu*.ttf", "STIX*.ttf", "cm*.ttf")


def letter_fonts():
    """Paths of matplotlib's fonts whose glyphs for every class letter are named as it."""
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    paths = sorted({path for pattern in FONT_PATTERNS
                    for path in glob.glob(os.path.join(folder, pattern))})
    usable = []
    for path in paths:
        font = FT2Font(path)
        charmap = font.get_charmap()
        if all(ord(c) in charmap and font.get_glyph_name(charmap[ord(c)]) == c
               for c in CLASS_NAMES):
            usable.append(path)
    return usable


def draw_letter(letter, font, rng):
    """One 28x28 uint8 image of `letter` in `font` (an ImageFont), randomly varied by `rng`."""
    pad = 2 * FONT_SIZE
    glyph = Image.new("L", (pad, pad), 0)
    ImageDraw.Draw(glyph).text((pad // 2, pad // 2), letter, fill=255, font=font, anchor="mm")
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)  # Image.transform maps output pixels to input pixels
    centre = np.array([pad / 2, pad / 2])
    offset = centre - inverse @ centre
    data = (*inverse[0], offset[0], *inverse[1], offset[1])
    glyph = glyph.transform(glyph.size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)
    glyph = glyph.crop(glyph.getbbox())
    span = rng.uniform(14, 24) * SCALE / max(glyph.size)
    width, height = (max(1, round(side * span)) for side in glyph.size)
    glyph = glyph.resize((width, height), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (BIG, BIG), 0)
    jitter = rng.uniform(-2, 2, size=2) * SCALE
    left = int(np.clip((BIG - width) / 2 + jitter[0], 0, BIG - width))
    top = int(np.clip((BIG - height) / 2 + jitter[1], 0, BIG - height))
    canvas.paste(glyph, (left, top))
    stroke = rng.choice(["none", "bolder", "bold", "thinner"], p=[0.4, 0.25, 0.15, 0.2])
    if stroke == "bolder" or stroke == "bold":
        canvas = canvas.filter(ImageFilter.MaxFilter(3 if stroke == "bolder" else 5))
    elif stroke == "thinner":
        thinner = canvas.filter(ImageFilter.MinFilter(3))
        ink = np.asarray(canvas, np.float64).sum()
        if np.asarray(thinner, np.float64).sum() > 0.6 * ink:  # keeps hairlines of thin fonts
            canvas = thinner
    canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.6) * SCALE))
    pixels = np.asarray(canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS), np.float64)
    return np.round(pixels * (255.0 / max(pixels.max(), 1.0))).astype(np.uint8)


def build(per_class, seed):
    """(images (N, 28, 28, 1) uint8, labels (N,) int64, font paths), shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    paths = letter_fonts()
    if not paths:
        raise SystemExit("no usable TrueType font found in matplotlib's mpl-data/fonts/ttf")
    fonts = [ImageFont.truetype(path, FONT_SIZE) for path in paths]
    labels = rng.permutation(np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class))
    images = np.stack([draw_letter(CLASS_NAMES[label], fonts[rng.integers(len(fonts))], rng)
                       for label in labels])
    return images[..., None], labels, paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="/tmp/letters.npz", help="the .npz to write")
    parser.add_argument("--per_class", type=int, default=500, help="images per letter")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    args = parser.parse_args()
    start = time.time()
    images, labels, paths = build(args.per_class, args.seed)
    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(args.output)}.{os.getpid()}.tmp.npz")
    np.savez_compressed(temporary, images=images, labels=labels,
                        class_names=np.array(CLASS_NAMES))
    os.replace(temporary, args.output)
    fonts = ", ".join(os.path.splitext(os.path.basename(p))[0] for p in paths)
    print(f"{len(images)} images {images.shape} in {time.time() - start:.1f}s to {args.output}; "
          f"{len(paths)} fonts: {fonts}")


if __name__ == "__main__":
    main()
