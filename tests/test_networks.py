import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import networks
from gan_tf.errors import UserError


def test_mlp_pair_is_the_design_note_exactly():
    generator = networks.make_generator("mlp", 100, (28, 28, 1))
    dense = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 128, 784]
    assert [type(layer).__name__ for layer in generator.layers].count("LeakyReLU") == 2
    assert generator.count_params() == (100 * 128 + 128) + (128 * 128 + 128) + (128 * 784 + 784)
    discriminator = networks.make_discriminator("mlp", (28, 28, 1))
    dense = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128, 128, 1]
    assert discriminator.count_params() == (784 * 128 + 128) + (128 * 128 + 128) + 129


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
@pytest.mark.parametrize("image_shape", [(28, 28, 1), (32, 32, 3), (64, 48, 3)])
def test_shapes_and_ranges(architecture, image_shape):
    generator = networks.make_generator(architecture, 16, image_shape, filters=8)
    discriminator = networks.make_discriminator(architecture, image_shape, filters=8)
    images = np.asarray(generator(np.random.normal(size=(5, 16)) * 10, training=False))
    assert images.shape == (5,) + image_shape
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (5, 1)


@pytest.mark.parametrize("image_shape, start", [((28, 28, 1), 7), ((32, 32, 3), 4),
                                                ((64, 64, 3), 4), ((12, 12, 1), 3)])
def test_dcgan_adapts_to_image_shape(image_shape, start):
    generator = networks.DCGANGenerator(image_shape=image_shape)
    assert generator.get_layer("reshape").output.shape[1] == start


@pytest.mark.parametrize("image_shape", [(27, 27, 1), (30, 30, 3), (8, 8, 1)])
def test_dcgan_refuses_shapes_it_cannot_take(image_shape):
    with pytest.raises(UserError, match="--image_size"):
        networks.DCGANDiscriminator(image_shape=image_shape)


@pytest.mark.parametrize("cls, kwargs", [
    (networks.MLPGenerator, dict(latent_dim=12, image_shape=(8, 8, 1), hidden_units=(32,))),
    (networks.MLPDiscriminator, dict(image_shape=(8, 8, 3), hidden_units=(16, 8))),
    (networks.DCGANGenerator, dict(latent_dim=12, image_shape=(16, 16, 3), filters=4)),
    (networks.DCGANDiscriminator, dict(image_shape=(16, 16, 3), filters=4)),
    (networks.MLPGenerator, dict(latent_dim=12, image_shape=(8, 8, 1), num_classes=3,
                                 embedding_dim=5)),
    (networks.MLPDiscriminator, dict(image_shape=(8, 8, 1), num_classes=3, spectral_norm=True)),
    (networks.DCGANGenerator, dict(latent_dim=12, image_shape=(16, 16, 3), filters=4,
                                   num_classes=4)),
    (networks.DCGANDiscriminator, dict(image_shape=(16, 16, 3), filters=4, num_classes=4)),
])
def test_config_and_keras_file_round_trip(cls, kwargs, tmp_path):
    model = cls(**kwargs)
    config = model.get_config()
    for key, value in kwargs.items():
        assert config[key] == (list(value) if isinstance(value, tuple) else value)
    assert cls.from_config(config).get_config() == config
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls and loaded.get_config() == config
    inputs = tf.random.normal((3,) + tuple(model.inputs[0].shape[1:]))
    if kwargs.get("num_classes"):
        inputs = [inputs, tf.constant([0, 1, 2])]
    np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-6)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="architecture"):
        networks.make_generator("vit", 10, (28, 28, 1))


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_conditional_networks_take_labels_and_use_them(architecture):
    generator = networks.make_generator(architecture, 16, (28, 28, 1), filters=8,
                                        num_classes=10)
    discriminator = networks.make_discriminator(architecture, (28, 28, 1), filters=8,
                                                num_classes=10)
    assert [tuple(i.shape) for i in generator.inputs] == [(None, 16), (None,)]
    assert [tuple(i.shape) for i in discriminator.inputs] == [(None, 28, 28, 1), (None,)]
    # Embeddings start near zero; give them weight so the label's effect is clear.
    for model, name in ((generator, "label_embedding"), (discriminator, "label_projection")):
        layer = model.get_layer(name)
        layer.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in
                           layer.get_weights()])
    z = tf.random.normal((4, 16), seed=0)
    threes, sevens = (generator([z, tf.fill([4], c)], training=False) for c in (3, 7))
    assert threes.shape == (4, 28, 28, 1) and float(tf.reduce_max(tf.abs(threes))) <= 1
    assert float(tf.reduce_max(tf.abs(threes - sevens))) > 1e-3  # G depends on the label
    # Projection: D(x, y) = psi(phi(x)) + <embed(y), phi(x)>; the class term changes the logit.
    logits = [discriminator([threes, tf.fill([4], c)]) for c in (3, 7)]
    assert logits[0].shape == (4, 1)
    assert float(tf.reduce_max(tf.abs(logits[0] - logits[1]))) > 1e-3


@pytest.mark.parametrize("num_classes", [1, 0, 2.5, "10", True])
def test_num_classes_must_be_two_or_more(num_classes):
    with pytest.raises(UserError, match="num_classes"):
        networks.MLPGenerator(num_classes=num_classes)
