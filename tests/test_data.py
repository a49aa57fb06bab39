import os
import time

import numpy as np
import pytest

from conftest import write_image_folder
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
