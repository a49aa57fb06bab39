"""Feature extractors: the domain classifier (trained, cached) and Keras Inception-v3 plumbing
(the reference FID graph: test_reference_inception.py)."""

import dataclasses
import os

import numpy as np
import pytest

from gan_tf import data as data_lib
from gan_tf import features
from gan_tf.errors import UserError


@pytest.fixture(scope="module")
def digits():
    return data_lib.load_embedded_mnist()


def test_fingerprint_follows_pixels_and_labels(digits):
    small = data_lib.subset(digits, 100)
    assert features.dataset_fingerprint(small) == features.dataset_fingerprint(
        dataclasses.replace(small, images=small.images.copy()))
    changed = small.images.copy()
    changed[0, 0, 0, 0] ^= 1
    assert features.dataset_fingerprint(dataclasses.replace(small, images=changed)) != \
        features.dataset_fingerprint(small)
    relabelled = dataclasses.replace(small, labels=np.roll(small.labels, 1))
    assert features.dataset_fingerprint(relabelled) != features.dataset_fingerprint(small)


def test_held_out_split_is_balanced_disjoint_and_seeded(digits):
    train, held_out = features.held_out_split(digits.labels, len(digits))
    assert len(held_out) == 500 and len(train) == 4500
    assert not set(train) & set(held_out)
    assert np.bincount(digits.labels[held_out]).tolist() == [50] * 10
    np.testing.assert_array_equal(held_out, features.held_out_split(digits.labels, 5000)[1])
    assert not np.array_equal(held_out,
                              features.held_out_split(digits.labels, 5000, seed=1)[1])


@pytest.mark.slow
def test_domain_classifier_trains_once_then_loads_from_the_cache(digits, tmp_path, messages):
    small = data_lib.subset(digits, 1000)
    judge = features.DomainClassifier.for_dataset(small, cache=tmp_path, epochs=3)
    assert judge.num_classes == 10 and judge.accuracy > 0.6  # 900 training digits, 3 epochs
    assert len(messages) == 1 and "held-out accuracy" in messages[0]
    images = np.asarray(data_lib.to_float(small.images[:20]))
    feature_array, probabilities = judge.features_and_probabilities(images, batch_size=8)
    assert feature_array.shape == (20, 128) and probabilities.shape == (20, 10)
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-5)
    cached = features.DomainClassifier.for_dataset(small, cache=tmp_path)
    assert len(messages) == 1 and cached.accuracy == judge.accuracy  # loaded, not trained
    np.testing.assert_allclose(cached.features(images), feature_array, atol=1e-5)
    # A torn cache is trained again, with a warning, not trusted.
    folder = next((tmp_path / "classifiers").iterdir())
    (folder / "info.json").write_text("{")
    features.DomainClassifier.for_dataset(small, cache=tmp_path, epochs=1)
    assert "cannot be read" in messages[1]


def test_domain_classifier_needs_labels(digits, tmp_path):
    unlabelled = dataclasses.replace(data_lib.subset(digits, 50), labels=None, class_names=None)
    with pytest.raises(UserError, match="--extractor=inception"):
        features.DomainClassifier.for_dataset(unlabelled, cache=tmp_path)


@pytest.mark.slow
def test_keras_inception_plumbing_with_random_weights():
    extractor = features.KerasInceptionExtractor("random")
    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    feature_array, probabilities = extractor.features_and_probabilities(images, batch_size=2)
    assert feature_array.shape == (3, 2048) and probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-4)
    assert extractor.describe()["weights"] == "random"
    # Neither the reference graph nor ImageNet weights: its scores are not called FID.
    assert extractor.name == "keras_inception"
    assert extractor.metric_names["fd"] == "FD (random InceptionV3 features)"


def test_inception_resize_is_rgb_299_and_keeps_flat_images_flat():
    import tensorflow as tf

    gray = np.full((2, 28, 28, 1), 0.25, np.float32)
    resized = features.resize_for_inception(gray).numpy()
    assert resized.shape == (2, 299, 299, 3)
    np.testing.assert_allclose(resized, 0.25, atol=1e-5)
    # Antialiased downsampling of a 1-pixel checkerboard averages it out (naive resizing
    # would alias it into a pattern).
    board = (np.indices((598, 598)).sum(0) % 2 * 2 - 1).astype(np.float32)[None, ..., None]
    smooth = features.resize_for_inception(np.repeat(board, 3, axis=-1)).numpy()
    naive = tf.image.resize(board, [299, 299], method="nearest").numpy()
    assert np.abs(smooth).max() < 0.2 and np.abs(naive).max() == 1
    with pytest.raises(UserError, match="1 or 3 channels"):
        features.resize_for_inception(np.zeros((1, 28, 28, 2), np.float32))


def test_keras_inception_without_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UserError, match="No Keras Inception-v3 weights on disk"):
        features.KerasInceptionExtractor()
    with pytest.raises(UserError, match="inception_weights"):
        features.KerasInceptionExtractor(str(tmp_path / "missing.h5"))
    assert features.find_inception_weights() is None
    folder = tmp_path / "keras" / "models"
    folder.mkdir(parents=True)
    (folder / features.KERAS_INCEPTION_FILES[1]).write_bytes(b"")
    assert features.find_inception_weights() == str(folder / features.KERAS_INCEPTION_FILES[1])


@pytest.mark.slow
def test_keras_inception_loads_a_notop_weights_file(tmp_path):
    import keras

    base = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                          input_shape=(299, 299, 3))
    path = str(tmp_path / "inception_v3_notop.weights.h5")
    base.save_weights(path)
    extractor = features.KerasInceptionExtractor(path)
    assert extractor.num_classes is None and extractor.weights == path
    assert extractor.metric_names["fd"] == "FD (Keras InceptionV3 features)"
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    feature_array, probabilities = extractor.features_and_probabilities(images)
    assert probabilities is None
    np.testing.assert_allclose(
        feature_array, base(features.resize_for_inception(images), training=False), atol=1e-4)
    assert os.path.exists(path)
