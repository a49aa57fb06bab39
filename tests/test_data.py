import functools
import os
import time

import numpy as np
import pytest

from conftest import prepare_tiny_colour_tfds, write_image_folder
from gan_tf import data
from gan_tf.errors import UserError


def test_embedded_digits_are_real_balanced_and_labelled():
    digits = data.load_images()
    assert digits.images.shape == (5000, 28, 28, 1) and digits.images.dtype == np.uint8
    assert np.bincount(digits.labels).tolist() == [500] * 10
    assert digits.num_classes == 10
    # Real MNIST strokes: mostly black background, some saturated ink, mean near 33/255.
    assert 25 < digits.images.mean() < 40 and (digits.images == 255).any()


def test_max_examples_is_class_balanced_and_seeded():
    first = data.load_images(max_examples=500, seed=3)
    assert np.bincount(first.labels).tolist() == [50] * 10
    again = data.load_images(max_examples=500, seed=3)
    np.testing.assert_array_equal(first.images, again.images)
    other = data.load_images(max_examples=500, seed=4)
    assert not np.array_equal(first.images, other.images)
    assert np.bincount(data.load_images(max_examples=25).labels).tolist() == [3] * 5 + [2] * 5


def _batches(dataset):
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset]


def test_training_batches_are_not_autotuned():
    # An autotuned iterator deleted before its end (every fit with steps_per_epoch) blocks
    # until the autotuner wakes, up to the length of the fit call (BUILD_NOTES.md).
    dataset, _ = data.make_dataset(data.load_images(max_examples=200), 64, seed=0)
    options = dataset.options()
    assert options.autotune.enabled is False
    assert options.threading.private_threadpool_size >= 2


def test_batches_depend_only_on_seed_and_epoch():
    digits = data.load_images(max_examples=200)
    full, steps = data.make_dataset(digits, 64, seed=7, start_epoch=0, end_epoch=3)
    assert steps == 3
    full = _batches(full)
    assert len(full) == 9
    resumed, _ = data.make_dataset(digits, 64, seed=7, start_epoch=2, end_epoch=3)
    for (x, y), (x2, y2) in zip(full[6:], _batches(resumed)):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    # Epochs differ from each other, and another seed gives another order.
    assert not np.array_equal(full[0][0], full[3][0])
    other = _batches(data.make_dataset(digits, 64, seed=8, start_epoch=0, end_epoch=1)[0])
    assert not np.array_equal(full[0][0], other[0][0])


def test_batches_are_float_in_range_with_matching_labels():
    digits = data.load_images(max_examples=100)
    dataset, _ = data.make_dataset(digits, 50, seed=0)
    x, y = next(iter(dataset))
    assert x.dtype == "float32" and x.shape == (50, 28, 28, 1)
    assert float(x.numpy().min()) == -1.0 and float(x.numpy().max()) == 1.0
    # Each batch image is an input image with the label that goes with it.
    for image, label in zip(x.numpy()[:5], y.numpy()[:5]):
        pixels = np.round((image + 1) * 127.5).astype(np.uint8)
        matches = np.flatnonzero((digits.images == pixels).all(axis=(1, 2, 3)))
        assert digits.labels[matches[0]] == label


def test_dataset_shorter_than_one_batch():
    digits = data.load_images(max_examples=30)
    with pytest.raises(UserError, match="30 images, fewer than one batch"):
        data.make_dataset(digits, 64, seed=0)


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 28, 28), np.uint8), "shape"),
    (np.zeros((4, 28, 28, 2), np.uint8), "channels"),
    (np.zeros((4, 28, 28, 1), np.float32), "dtype float32"),
    (np.zeros((0, 28, 28, 1), np.uint8), "empty"),
])
def test_check_images_rejects(images, message):
    with pytest.raises(UserError, match=message):
        data.check_images(images)


def test_folder_with_class_subfolders(tmp_path):
    root = write_image_folder(tmp_path / "imgs", count=3, size=(12, 10), mode="RGB",
                              classes=("cat", "dog"))
    loaded = data.load_images(f"folder:{root}")
    assert loaded.images.shape == (6, 10, 12, 3)
    assert loaded.class_names == ["cat", "dog"] and loaded.labels.tolist() == [0] * 3 + [1] * 3
    resized = data.load_images(f"folder:{root}", image_size=16)
    assert resized.images.shape == (6, 16, 16, 3)


def test_flat_grayscale_folder_is_unlabelled(tmp_path):
    root = write_image_folder(tmp_path / "flat", count=4, classes=())
    loaded = data.load_images(f"folder:{root}")
    assert loaded.images.shape == (4, 28, 28, 1) and loaded.labels is None
    batch = next(iter(data.make_dataset(loaded, 2, seed=0)[0]))
    assert batch.shape == (2, 28, 28, 1)  # images only, no labels


def test_folder_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        data.load_images(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image files"):
        data.load_images(f"folder:{tmp_path / 'empty'}")
    root = write_image_folder(tmp_path / "bad", count=2, classes=())
    (tmp_path / "bad" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="broken.png"):
        data.load_images(f"folder:{root}")
    mixed = write_image_folder(tmp_path / "mixed", count=1, classes=())
    write_image_folder(tmp_path / "mixed" / "sub", count=1, size=(20, 20), classes=())
    with pytest.raises(UserError, match="--image_size"):
        data.load_images(f"folder:{mixed}")


def test_tfds_dataset_through_mock_data(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    # mock_data turns download_and_prepare into a no-op, so "online" touches nothing.
    monkeypatch.setattr(data, "network_reachable", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12):
        loaded = data.load_images("mnist", data_dir=str(tmp_path))
    assert loaded.images.shape == (12, 28, 28, 1) and loaded.images.dtype == np.uint8
    assert loaded.num_classes == 10 and loaded.labels.shape == (12,)


def test_tfds_unknown_name_is_a_clear_error():
    with pytest.raises(UserError, match="Unknown dataset.*'mnistt'.*embedded_mnist"):
        data.load_images("mnistt")


def test_tfds_not_prepared_fails_fast_offline(tmp_path, monkeypatch):
    started = time.monotonic()
    with pytest.raises(UserError, match="--data_dir.*embedded_mnist"):
        data.load_images("mnist", data_dir=str(tmp_path), download=False)
    with pytest.raises(UserError, match="cannot be reached.*--data_dir"):
        data.load_images("fashion_mnist", data_dir=str(tmp_path))
    assert time.monotonic() - started < 10
    assert not any(name.endswith((".tmp", "incomplete")) for name in os.listdir(tmp_path))


def test_folder_16_bit_rgba_and_hidden_files(tmp_path):
    from PIL import Image

    root = tmp_path / "mixed_modes"
    root.mkdir()
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1040).astype(np.uint16)  # 0..65520
    Image.fromarray(ramp).save(root / "deep.png")  # 16-bit grayscale
    assert Image.open(root / "deep.png").mode.startswith("I")
    (root / "._deep.png").write_bytes(b"macOS resource fork, not an image")
    loaded = data.load_images(f"folder:{root}")
    assert loaded.images.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(loaded.images[0, ..., 0], np.round(ramp / 257), atol=1)

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200  # red everywhere...
    rgba[:4, ..., 3] = 255  # ...but only the top half is opaque
    Image.fromarray(rgba, "RGBA").save(root / "sprite.png")
    loaded = data.load_images(f"folder:{root}")
    assert loaded.images.shape == (2, 8, 8, 3)  # one RGB image makes the set RGB
    sprite = loaded.images[1]
    assert sprite[:4, :, 0].min() == 200 and sprite[4:].max() == 0  # transparent -> black


# === Array files (array:PATH) ===

def _digits(count=64, size=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size), dtype=np.uint8)


def test_array_npz_with_labels_and_class_names(tmp_path):
    # What `python -m gan_tf.generate --format=npz` writes: uint8 (N, H, W, C), int32 labels,
    # str class names.
    pixels = _digits(12)[..., None]
    labels = (np.arange(12) % 3).astype(np.int32)
    np.savez(tmp_path / "data.npz", images=pixels, labels=labels,
             class_names=np.array(["cat", "dog", "eel"], dtype=str))
    loaded = data.load_images(f"array:{tmp_path / 'data.npz'}")
    np.testing.assert_array_equal(loaded.images, pixels)
    assert loaded.labels.dtype == np.int32 and loaded.labels.tolist() == labels.tolist()
    assert loaded.class_names == ["cat", "dog", "eel"] and loaded.num_classes == 3
    # Labels shaped (N, 1) (as keras.datasets gives them) and no class names: 0..max.
    np.savez(tmp_path / "plain.npz", images=pixels[..., 0], labels=labels[:, None] + 1)
    plain = data.load_images(f"array:{tmp_path / 'plain.npz'}", image_size=16)
    assert plain.images.shape == (12, 16, 16, 1)
    assert plain.class_names == ["0", "1", "2", "3"] and plain.labels.tolist()[:3] == [1, 2, 3]


def test_array_npy_rgb_images_only(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", pixels)
    loaded = data.load_images(f"array:{tmp_path / 'rgb.npy'}")
    np.testing.assert_array_equal(loaded.images, pixels)
    assert loaded.labels is None and loaded.class_names is None


def test_array_float_images_round_trip_through_to_float(tmp_path):
    from gan_tf import images

    # uint8 -> to_float -> saved as float -> loaded: every pixel value comes back exactly.
    every_value = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    np.save(tmp_path / "exact.npy", data.to_float(every_value).numpy())
    loaded = data.load_images(f"array:{tmp_path / 'exact.npy'}")
    np.testing.assert_array_equal(loaded.images[..., 0], every_value)
    # Any float image in [-1, 1] is within half a pixel step (1/255) after the round trip,
    # and its pixels are images.to_uint8's; a value half a step outside is clipped.
    floats = np.random.default_rng(2).uniform(-1, 1, (6, 8, 8, 1))
    floats[0, 0, 0, 0], floats[0, 0, 1, 0] = -1.0, 1.0 + 0.4 / 255
    np.savez(tmp_path / "floats.npz", images=floats)
    pixels = data.load_images(f"array:{tmp_path / 'floats.npz'}").images
    np.testing.assert_array_equal(pixels, images.to_uint8(np.clip(floats, -1, 1)))
    back = data.to_float(pixels).numpy()
    assert np.abs(back - np.clip(floats, -1, 1)).max() <= 1 / 255 + 1e-6
    assert pixels[0, 0, 1, 0] == 255


def test_array_path_is_made_absolute_and_loads_from_elsewhere(tmp_path, monkeypatch):
    from gan_tf.config import TrainConfig

    np.save(tmp_path / "rel.npy", _digits(4))
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(dataset="array:rel.npy")
    assert config.dataset == "array:" + str(tmp_path / "rel.npy")
    monkeypatch.chdir("/")
    assert len(data.load_images(config.dataset)) == 4


def test_check_images_refuses_binary_pixels():
    with pytest.raises(UserError, match="every pixel is 0 or 1.*pixels \\* 255"):
        data.check_images(np.ones((2, 4, 4, 1), np.uint8))


def test_folder_names_every_unreadable_file_up_to_five(tmp_path):
    root = write_image_folder(tmp_path / "many", count=3, classes=())
    for index in range(8):
        (tmp_path / "many" / f"z{index}.png").write_bytes(b"x" * index)
    with pytest.raises(UserError) as error:
        data.load_images(f"folder:{root}")
    message = str(error.value)
    assert message.startswith(f"8 of the 11 image files in {root} cannot be read: z0.png (an "
                              "empty file, 0 bytes); z1.png (not a readable image);")
    assert "z4.png" in message and "z5.png" not in message and "and 3 more" in message


# === Bad data through train(): one clear UserError, and no run directory ===

def _array_case(arrays=None, name="data.npz", overrides=None, raw=None):
    """A case writing `arrays` (a dict: .npz; an array: .npy) or `raw` bytes to `name`."""
    def make(tmp_path):
        path = tmp_path / name
        if raw is not None:
            path.write_bytes(raw)
        elif isinstance(arrays, dict):
            np.savez(path, **arrays)
        elif arrays is not None:
            np.save(path, arrays, allow_pickle=arrays.dtype == object)
        return f"array:{path}", dict(overrides or {})
    return make


def _folder_case(good=0, bad=(), size=(8, 8), classes=(), overrides=None, create=True,
                 extra=()):
    """A case: an image folder of `good` PNGs, then `bad` {name: bytes} and `extra` files."""
    def make(tmp_path):
        root = tmp_path / "images"
        if create:
            root.mkdir()
        if good:
            write_image_folder(root, count=good, size=size, classes=classes)
        for name, content in dict(bad).items():
            if content == "truncated":
                first = next(p for p in sorted(root.rglob("*.png")))
                content = first.read_bytes()[:60]
            (root / name).write_bytes(content)
        for name in extra:
            (root / name).write_text("notes")
        return f"folder:{root}", dict(overrides or {})
    return make


def _mixed_size_folder_case(tmp_path):
    root = write_image_folder(tmp_path / "images", count=40, size=(8, 8), classes=())
    write_image_folder(tmp_path / "images" / "big", count=40, size=(9, 9), classes=())
    return f"folder:{root}", {}


@functools.lru_cache(maxsize=None)
def _float_image_tfds_name():
    """Registers (once) a tensorflow-datasets builder whose images are float32, one NaN."""
    import tensorflow_datasets as tfds

    class GanTfTestFloatImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(8, 8, 1), dtype=np.float32),
                    "label": tfds.features.ClassLabel(num_classes=2)}),
                supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for index in range(4):
                image = np.full((8, 8, 1), np.nan if index == 2 else 0.5, np.float32)
                yield index, {"image": image, "label": index % 2}

    return GanTfTestFloatImages.name


def _float_tfds_case(tmp_path):
    return _float_image_tfds_name(), dict(data_dir=str(tmp_path / "tfds"))


_FLOATS = _digits() / 127.5 - 1  # (64, 8, 8) in [-1, 1]
_NAN = _FLOATS.copy()
_NAN[3, 4, 5], _NAN[7, 0, 0] = np.nan, np.nan
_INF = _FLOATS.copy()
_INF[9, 1, 2] = -np.inf

BAD_DATA = {
    # Array files: pixel values and ranges.
    "float 0-255": (_array_case({"images": _digits().astype(np.float32)}),
                    r"look like uint8 pixels stored as float: pass uint8"),
    "float 0-1": (_array_case({"images": _digits() / 255.0}),
                  r"look like \[0, 1\] images.*images \* 2 - 1"),
    "float NaN": (_array_case({"images": _NAN}),
                  r"holds 2 NaN and 0 infinite values \(the first at images\[3, 4, 5\]"),
    "float inf": (_array_case(_INF, "inf.npy"),
                  r"holds 0 NaN and 1 infinite values \(the first at images\[9, 1, 2\]"),
    "float outside [-1, 1]": (_array_case({"images": _FLOATS * 3}),
                              r"in \[-3, 3\].*Rescale them to \[-1, 1\]"),
    "float not clearly [-1, 1]": (_array_case({"images": _FLOATS * 0.3}),
                                  r"not clearly \[-1, 1\].*to_uint8"),
    "uint8 binary 0/1": (_array_case((_digits() > 128).astype(np.uint8), "mask.npy"),
                         r"every pixel is 0 or 1"),
    "int64 pixels": (_array_case(_digits().astype(np.int64), "wide.npy"),
                     r"dtype int64.*images.astype\(np.uint8\)"),
    "bool pixels": (_array_case(_digits() > 9, "bool.npy"), r"dtype bool. Expected uint8"),
    # Array files: shapes.
    "rank 2": (_array_case(_digits()[0], "one.npy"), r"shape \(8, 8\).*Expected uint8"),
    "rank 5": (_array_case(_digits()[None, ..., None], "five.npy"), r"shape \(1, 64, 8, 8, 1\)"),
    "channels first": (_array_case(np.zeros((64, 3, 8, 8), np.uint8), "chw.npy"),
                       r"channels-first: pass np.moveaxis\(images, 1, -1\)"),
    "RGBA": (_array_case(np.zeros((64, 8, 8, 4), np.uint8), "rgba.npy"), r"RGBA.*\[\.\.\., :3\]"),
    "no images": (_array_case({"images": np.zeros((0, 8, 8), np.uint8)}), r"holds no images"),
    "zero width": (_array_case(np.zeros((64, 8, 0), np.uint8), "flat.npy"), r"holds no images"),
    # Array files: keys and labels.
    "object array": (_array_case(np.array([_digits()[0], None], dtype=object), "obj.npy"),
                     r"Python objects.*never unpickles"),
    "pickle file": (_array_case(raw=b"\x80\x04\x95" + b"\x00" * 20, name="data.npy"),
                    r"a Python pickle, which gan_tf never loads"),
    "keras-style keys": (_array_case({"x_train": _digits(), "y_train": np.arange(64)}),
                         r"holds the arrays \['x_train', 'y_train'\]. Expected 'images'"),
    "misspelt labels": (_array_case({"images": _digits(), "label": np.arange(64) % 2}),
                        r"holds the arrays \['images', 'label'\]"),
    "labels too short": (_array_case({"images": _digits(), "labels": np.arange(63) % 2}),
                         r"'labels' has shape \(63,\).*Expected 64 integer class indices"),
    "labels past class_names": (
        _array_case({"images": _digits(), "labels": np.arange(64) % 3,
                     "class_names": np.array(["a", "b"])}),
        r"21 of the 64 labels are outside \[0, 2\) \(the first: labels\[2\] = 2\)"),
    "negative labels": (_array_case({"images": _digits(), "labels": np.arange(64) - 1}),
                        r"labels\[0\] = -1"),
    "labels that are ids": (_array_case({"images": _digits(), "labels": np.arange(64) * 1000}),
                            r"largest label is 63000.*look like ids"),
    "float labels": (_array_case({"images": _digits(), "labels": np.arange(64) % 2 * 1.0}),
                     r"dtype float64.*labels.astype\(np.int64\)"),
    "one-hot labels": (_array_case({"images": _digits(), "labels": np.eye(2)[np.arange(64) % 2]}),
                       r"one-hot: pass labels.argmax\(axis=1\)"),
    "class_names without labels": (_array_case({"images": _digits(),
                                                "class_names": np.array(["a"])}),
                                   r"'class_names' but no 'labels'"),
    "class_names not strings": (_array_case({"images": _digits(), "labels": np.arange(64) % 2,
                                             "class_names": np.array([0, 1])}),
                                r"one string per class"),
    "class_names repeated": (_array_case({"images": _digits(), "labels": np.arange(64) % 2,
                                          "class_names": np.array(["a", "a"])}),
                             r"'class_names' repeats a name"),
    # Array files: unreadable.
    "missing file": (_array_case(name="absent.npz"), r"Array file not found"),
    "garbage bytes": (_array_case(raw=b"not numpy at all"), r"is not a NumPy .npz or .npy file"),
    "zero bytes": (_array_case(raw=b"", name="zero.npy"), r"is empty \(0 bytes\)"),
    "truncated npz": (_array_case(raw=b"PK\x03\x04" + b"\x00" * 40), r"truncated or corrupt"),
    # Array files: what the run then refuses.
    "shorter than one batch": (_array_case(_digits(10), "ten.npy"),
                               r"10 images, fewer than one batch \(--batch_size=64\)"),
    "size the DCGAN cannot take": (_array_case(_digits(size=10), "ten_px.npy",
                                               {"architecture": "dcgan"}),
                                   r"DCGAN cannot take 10x10 \(width x height\) images.*--image_size"),
    "conditional, no labels": (_array_case({"images": _digits()}, overrides={
        "conditional": True}), r"--conditional needs a labelled dataset"),
    # Image folders.
    "folder missing": (_folder_case(create=False), r"Image folder not found"),
    "folder empty": (_folder_case(), r"holds no image files"),
    "folder without image files": (_folder_case(extra=["notes.txt", ".hidden.png"]),
                                   r"holds no image files"),
    "folder of corrupt files only": (
        _folder_case(bad={"a.png": b"garbage", "b.png": b""}),
        r"2 of the 2 image files in .* cannot be read: a.png \(not a readable image\); "
        r"b.png \(an empty file, 0 bytes\)\. Remove or replace them"),
    "folder with a truncated file among good ones": (
        _folder_case(good=3, bad={"cut.png": "truncated"}),
        r"1 of the 4 image files in .* cannot be read: cut.png \(image file is truncated\)"),
    "folder shorter than one batch": (_folder_case(good=8),
                                      r"8 images, fewer than one batch"),
    "folder of mixed sizes": (_mixed_size_folder_case, r"2 different sizes.*--image_size=N"),
    # tensorflow-datasets.
    "tfds float32 image feature (NaN)": (_float_tfds_case,
                                          r"stores its images \('image'\) as float32"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_fails_through_train_before_anything_is_written(case, make_tiny_config,
                                                                tmp_path):
    from gan_tf import train_lib

    make, message = BAD_DATA[case]
    dataset, overrides = make(tmp_path)
    config = make_tiny_config(dataset=dataset, **{"max_examples": None, **overrides})
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UserError, match=message) as error:
        train_lib.train(config, verbose=0)
    assert "\n" not in str(error.value)  # one line, for the CLI's one-line error
    assert not os.path.exists(config.output_dir)
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_a_conditional_run_trains_on_an_array_file(make_tiny_config, tmp_path):
    import json

    from gan_tf import train_lib

    floats = _FLOATS[..., None].astype(np.float32)  # float images in [-1, 1]
    np.savez(tmp_path / "data.npz", images=floats, labels=np.arange(64) % 2,
             class_names=np.array(["even", "odd"]))
    config = make_tiny_config(dataset=f"array:{tmp_path / 'data.npz'}", max_examples=None,
                              batch_size=32, epochs=1, conditional=True)
    result = train_lib.train(config, verbose=0)
    assert result.trained
    saved = json.load(open(os.path.join(config.output_dir, "config.json")))
    assert saved["dataset"] == {"name": f"array:{tmp_path / 'data.npz'}", "num_examples": 64,
                                "image_shape": [8, 8, 1], "num_classes": 2,
                                "class_names": ["even", "odd"]}


# === Streamed folders: the same batches as in memory, decoded only when needed ===

def test_a_streamed_folder_gives_the_batches_of_the_folder_in_memory(tmp_path):
    root = write_image_folder(tmp_path / "imgs", count=40, size=(6, 5), mode="RGB",
                              classes=("a", "b", "c"))
    memory = data.load_images(f"folder:{root}", cache="memory")
    streamed = data.load_images(f"folder:{root}", cache="stream")
    assert data.is_streamed(streamed) and not data.is_streamed(memory)
    for start_epoch, start_step in ((0, 0), (1, 3)):
        expected, steps = data.make_dataset(memory, 16, seed=5, start_epoch=start_epoch,
                                            end_epoch=3, start_step=start_step)
        got, steps_streamed = data.make_dataset(streamed, 16, seed=5, start_epoch=start_epoch,
                                                end_epoch=3, start_step=start_step)
        assert steps == steps_streamed == 7
        expected, got = _batches(expected), _batches(got)
        assert len(got) == len(expected) == 7 * (3 - start_epoch) - start_step
        for (x, y), (x2, y2) in zip(expected, got):
            np.testing.assert_array_equal(x, x2)
            np.testing.assert_array_equal(y, y2)


def test_resuming_mid_epoch_decodes_none_of_the_skipped_images(tmp_path):
    root = write_image_folder(tmp_path / "imgs", count=32, size=(4, 4), classes=("a", "b"))
    streamed = data.load_images(f"folder:{root}", cache="stream")
    labelled = data.ImageData("indices", np.zeros((64, 1, 1, 1), np.uint8) + 9,
                              np.arange(64, dtype=np.int32), [str(i) for i in range(64)])
    # The order of epoch 1, read from the labels of an in-memory twin: 8 batches of 8.
    order = np.concatenate([y for _, y in _batches(data.make_dataset(
        labelled, 8, seed=2, start_epoch=1, end_epoch=2)[0])])
    decoded = []
    original = streamed.images.decode_one
    streamed.images.decode_one = lambda index: decoded.append(index) or original(index)
    batches = _batches(data.make_dataset(streamed, 8, seed=2, start_epoch=1, end_epoch=2,
                                         start_step=5)[0])
    assert len(batches) == 3
    assert sorted(decoded) == sorted(order[40:].tolist())  # batches 6-8 only
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), streamed.labels[
        order[40:]])
    with pytest.raises(UserError, match="start_step"):
        data.make_dataset(streamed, 8, seed=2, start_step=8)


def test_auto_streams_what_does_not_fit_and_subsets_stay_streamed(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "imgs", count=30, size=(6, 6), classes=("a", "b"))
    assert not data.is_streamed(data.load_images(f"folder:{root}"))
    monkeypatch.setattr(data, "memory_budget", lambda: 60 * 36 - 1)  # one byte too few
    streamed = data.load_images(f"folder:{root}", max_examples=20, seed=1)
    assert data.is_streamed(streamed) and len(streamed) == 20
    np.testing.assert_array_equal(np.bincount(streamed.labels), [10, 10])
    in_memory = data.load_images(f"folder:{root}", max_examples=20, seed=1, cache="memory")
    np.testing.assert_array_equal(np.asarray(streamed.images), in_memory.images)
    np.testing.assert_array_equal(streamed.labels, in_memory.labels)
    monkeypatch.setattr(data, "memory_budget", lambda: 60 * 36)
    assert not data.is_streamed(data.load_images(f"folder:{root}"))
    with pytest.raises(UserError, match="data_cache"):
        data.load_images(f"folder:{root}", cache="disk")


def test_available_memory_reads_meminfo_and_a_cgroup_limit(tmp_path, monkeypatch):
    from gan_tf import hardware

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    1000 kB\n")
    monkeypatch.setattr(hardware, "_cgroup_memory_left", lambda: None)
    assert hardware.available_memory(str(meminfo)) == 1024000
    monkeypatch.setattr(hardware, "_cgroup_memory_left", lambda: 5000)
    assert hardware.available_memory(str(meminfo)) == 5000
    assert hardware.available_memory(str(tmp_path / "missing")) is None
    monkeypatch.undo()
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text("3000000\n")
    (cgroup / "memory.current").write_text("1000000\n")
    assert hardware._cgroup_memory_left(str(cgroup)) == 2000000
    (cgroup / "memory.max").write_text("max\n")
    assert hardware._cgroup_memory_left(str(cgroup)) is None
    assert hardware.available_memory() > 0  # this machine (Linux)


def test_streaming_takes_image_folders_and_tfds_datasets(make_tiny_config):
    with pytest.raises(UserError, match=r"data_cache.*embedded digits and array files"):
        make_tiny_config(data_cache="stream")
    with pytest.raises(UserError, match="data_cache"):
        make_tiny_config(data_cache="sometimes")


def test_a_streamed_tfds_split_gives_the_pixels_and_batches_of_memory(tmp_path):
    name = prepare_tiny_colour_tfds(tmp_path / "tfds", "array_record")
    options = dict(data_dir=str(tmp_path / "tfds"), download=False)
    for size in (None, 8):
        memory = data.load_images(name, cache="memory", image_size=size, **options)
        streamed = data.load_images(name, cache="stream", image_size=size, **options)
        assert data.is_streamed(streamed) and not data.is_streamed(memory)
        assert streamed.images.shape == memory.images.shape == (90,) + (
            (10, 6, 3) if size is None else (8, 8, 3))
        np.testing.assert_array_equal(streamed.labels, memory.labels)
        assert streamed.class_names == memory.class_names == ["red", "green", "blue"]
        np.testing.assert_array_equal(streamed.images[[5, 0, 89]], memory.images[[5, 0, 89]])
    expected = _batches(data.make_dataset(memory, 16, seed=3, end_epoch=2, start_step=2)[0])
    got = _batches(data.make_dataset(streamed, 16, seed=3, end_epoch=2, start_step=2)[0])
    assert len(got) == len(expected) == 8
    for (x, y), (x2, y2) in zip(expected, got):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    part = data.load_images(name, cache="stream", max_examples=30, seed=2, **options)
    assert data.is_streamed(part) and np.bincount(part.labels).tolist() == [10, 10, 10]
    np.testing.assert_array_equal(
        np.asarray(part.images),
        data.load_images(name, cache="memory", max_examples=30, seed=2, **options).images)


def test_a_tfds_split_too_big_for_memory_in_tfrecords_says_how_to_stream_it(tmp_path,
                                                                             monkeypatch):
    name = prepare_tiny_colour_tfds(tmp_path / "tfds", "tfrecord")
    options = dict(data_dir=str(tmp_path / "tfds"), download=False)
    monkeypatch.setattr(data, "memory_budget", lambda: 1000)
    with pytest.raises(UserError, match=r"prepared as tfrecord files.*tfds build "
                       + name + r" --data_dir=DIR --file_format=array_record.*"
                       r"--data_cache=memory"):
        data.load_images(name, **options)
    assert not data.is_streamed(data.load_images(name, cache="memory", **options))


def test_image_size_takes_width_x_height_for_every_source(tmp_path):
    root = write_image_folder(tmp_path / "mixed", count=3, size=(12, 10), mode="RGB",
                              classes=("a", "b"))
    write_image_folder(tmp_path / "mixed" / "c", count=2, size=(20, 9), mode="RGB", classes=())
    for cache in ("memory", "stream"):
        loaded = data.load_images(f"folder:{root}", image_size="16x12", cache=cache)
        assert loaded.images.shape == (8, 12, 16, 3)  # WIDTHxHEIGHT -> (height, width)
        assert np.asarray(loaded.images).shape == (8, 12, 16, 3)
    np.testing.assert_array_equal(
        np.asarray(data.load_images(f"folder:{root}", image_size="16x12", cache="stream").images),
        data.load_images(f"folder:{root}", image_size="16x12", cache="memory").images)
    np.savez(tmp_path / "d.npz", images=_digits())
    assert data.load_images(f"array:{tmp_path / 'd.npz'}", image_size="6x4").images.shape == (
        64, 4, 6, 1)
    name = prepare_tiny_colour_tfds(tmp_path / "tfds")
    for cache in ("memory", "stream"):
        tfds_data = data.load_images(name, data_dir=str(tmp_path / "tfds"), download=False,
                                     image_size="5x7", cache=cache)
        assert np.asarray(tfds_data.images).shape == (90, 7, 5, 3)
    from gan_tf.image_files import canonical_image_size, image_height_width

    assert image_height_width("128x96") == (96, 128) and image_height_width(64) == (64, 64)
    assert canonical_image_size("64x64") == 64 and canonical_image_size("128X96") == "128x96"
    for bad in ("64x", "x64", "1x2x3", "0x5", "big", 0, True, 2.5):
        with pytest.raises(UserError, match="image_size"):
            image_height_width(bad)
