"""Builds, offline, a labelled dataset of real colour photographs: patches of sample photos
that ship inside Python packages, one class per photo.

    python benchmarks/photo_patches.py --output=/tmp/photos --count=6000 --size=64x48 \
        [--photos=skimage|matplotlib|PATH.whl]
    python -m gan_tf.train --dataset=folder:/tmp/photos --architecture=resnet ...

Real colour datasets cannot be downloaded on the project's machines. These are real
photographs anyway:
- `skimage` (the default when available): eight colour photographs that scikit-image ships
  in its wheel (astronaut, chelsea the cat, coffee, rocket, motorcycle, hubble deep field,
  retina, immunohistochemistry); read from an installed scikit-image, or straight from a
  downloaded wheel file (`pip download scikit-image --no-deps`), without installing it.
- `matplotlib`: the two colour images in matplotlib's sample data (Grace Hopper's portrait
  and a product photo), which every gan_tf install has; two classes.
Each patch is a random crop (20-60% of the photo's shorter side, the aspect of --size),
flipped left-right half of the time, resized with Lanczos. Randomness comes from
`numpy.random.default_rng([seed, index])`. Writes `<photo>/<index>.png`.
"""

import argparse
import io
import os
import sys
import time
import zipfile

import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                  "motorcycle_left.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png")
MATPLOTLIB_PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")


def _open_rgb(data):
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def load_photos(source="skimage"):
    """`{name: PIL RGB image}` from scikit-image (installed, or a wheel path) or matplotlib."""
    if source == "matplotlib":
        import matplotlib

        folder = os.path.join(matplotlib.get_data_path(), "sample_data")
        return {os.path.splitext(n)[0]: _open_rgb(open(os.path.join(folder, n), "rb").read())
                for n in MATPLOTLIB_PHOTOS}
    if source.endswith(".whl"):
        with zipfile.ZipFile(source) as wheel:
            return {os.path.splitext(n)[0]: _open_rgb(wheel.read(f"skimage/data/{n}"))
                    for n in SKIMAGE_PHOTOS}
    import skimage

    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    return {os.path.splitext(n)[0]: _open_rgb(open(os.path.join(folder, n), "rb").read())
            for n in SKIMAGE_PHOTOS}


def patch(photo, size, rng):
    """A random crop of `photo` with the aspect of `size` (width, height), resized to it."""
    width, height = size
    short = min(photo.size)
    side = short * (0.2 + 0.4 * rng.random())
    crop_w, crop_h = (side, side * height / width) if width >= height else (
        side * width / height, side)
    left = rng.random() * (photo.size[0] - crop_w)
    top = rng.random() * (photo.size[1] - crop_h)
    image = photo.resize((width, height), Image.Resampling.LANCZOS,
                         box=(left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image, np.uint8)


def make_arrays(count, size, photos, seed=0):
    """`(images (N, H, W, 3) uint8, labels (N,), class_names)`; classes cycle."""
    names = sorted(photos)
    images = [patch(photos[names[i % len(names)]], size, np.random.default_rng([seed, i]))
              for i in range(count)]
    return np.stack(images), np.arange(count) % len(names), names


def write_folder(root, count, size, photos, seed=0):
    names = sorted(photos)
    for name in names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for index in range(count):
        name = names[index % len(names)]
        pixels = patch(photos[name], size, np.random.default_rng([seed, index]))
        Image.fromarray(pixels).save(os.path.join(root, name, f"{index:07d}.png"),
                                     compress_level=1)
    return root


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from colour_shapes import parse_size

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="a new folder")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--size", default="32", help="N or WIDTHxHEIGHT, e.g. 64x48")
    parser.add_argument("--photos", default="skimage",
                        help="skimage (installed), matplotlib, or the path of a scikit-image "
                             "wheel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if os.path.exists(args.output):
        sys.exit(f"{args.output} exists; pass a new path (nothing was changed)")
    started = time.perf_counter()
    photos = load_photos(args.photos)
    size = parse_size(args.size)
    write_folder(args.output + ".partial", args.count, size, photos, args.seed)
    os.rename(args.output + ".partial", args.output)  # no half folder if interrupted
    print(f"{args.count} patches {size[0]}x{size[1]}x3 of {len(photos)} photos "
          f"({', '.join(sorted(photos))}), {time.perf_counter() - started:.1f} s -> "
          f"{args.output}")


if __name__ == "__main__":
    main()
