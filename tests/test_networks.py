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


@pytest.mark.parametrize("architecture", ["mlp", "dcgan", "resnet"])
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
    (networks.ResNetGenerator, dict(latent_dim=12, image_shape=(16, 16, 3), filters=4)),
    (networks.ResNetDiscriminator, dict(image_shape=(16, 16, 3), filters=4,
                                        spectral_norm=False)),
    (networks.ResNetGenerator, dict(latent_dim=12, image_shape=(24, 16, 1), filters=4,
                                    num_classes=3, attention_resolution=12,
                                    activation="prelu")),
    (networks.ResNetDiscriminator, dict(image_shape=(24, 16, 1), filters=4, num_classes=3,
                                        attention_resolution=12)),
])
def test_config_and_keras_file_round_trip(cls, kwargs, tmp_path):
    model = cls(**kwargs)
    config = model.get_config()
    for key, value in kwargs.items():
        assert config[key] == (list(value) if isinstance(value, tuple) else value)
    assert cls.from_config(config).get_config() == config
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
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


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_default_activations_and_layer_names_are_unchanged(architecture):
    # Checkpoints and .keras files of earlier runs name these layers: they must not move.
    generator = networks.make_generator(architecture, 8, (12, 12, 1), filters=4)
    discriminator = networks.make_discriminator(architecture, (12, 12, 1), filters=4)
    names = [layer.name for layer in generator.layers + discriminator.layers]
    if architecture == "mlp":
        assert {"leaky_relu_0", "leaky_relu_1"} <= set(names)
        assert generator.activation == discriminator.activation == "leaky_relu"
    else:
        assert {"project_relu", "up_1_relu", "up_2_relu", "down_0_leaky_relu",
                "down_1_leaky_relu"} <= set(names)
        assert (generator.activation, discriminator.activation) == ("relu", "leaky_relu")
    assert "PReLU" not in _layer_types(generator) + _layer_types(discriminator)
    assert generator.latent_distribution == "normal"


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_prelu_starts_as_the_leaky_relu_of_its_slope_and_learns_it(architecture):
    kwargs = dict(image_shape=(12, 12, 1), filters=4, negative_slope=0.3)
    leaky = networks.make_discriminator(architecture, **kwargs)
    prelu = networks.make_discriminator(architecture, activation="prelu", **kwargs)
    slopes = [layer for layer in prelu.layers if isinstance(layer, keras.layers.PReLU)]
    assert len(slopes) == 2
    if architecture == "dcgan":  # one slope per channel on feature maps (He et al., 2015)
        assert [tuple(layer.alpha.shape) for layer in slopes] == [(1, 1, 4), (1, 1, 8)]
    else:
        assert [tuple(layer.alpha.shape) for layer in slopes] == [(128,), (128,)]
    for layer in slopes:
        np.testing.assert_allclose(layer.alpha.numpy(), 0.3)
    # The same layers but the activations: with the same weights, the same logits at first.
    def weighted(model):
        return [layer for layer in model.layers
                if layer.weights and not isinstance(layer, keras.layers.PReLU)]

    for source, target in zip(weighted(leaky), weighted(prelu), strict=True):
        target.set_weights(source.get_weights())
    images = tf.random.uniform((4, 12, 12, 1), -1, 1, seed=3)
    np.testing.assert_allclose(prelu(images), leaky(images), atol=1e-5)
    # The slopes are trainable: a gradient reaches them.
    with tf.GradientTape() as tape:
        logits = prelu(images, training=True)
    gradients = tape.gradient(logits, [layer.alpha for layer in slopes])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "prelu"])
def test_generator_activation_replaces_every_hidden_nonlinearity(architecture, activation):
    generator = networks.make_generator(architecture, 8, (12, 12, 1), filters=4,
                                        activation=activation, negative_slope=0.1)
    expected = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "prelu": "PReLU"}[activation]
    kinds = _layer_types(generator)
    assert kinds.count(expected) == (2 if architecture == "mlp" else 3)
    assert not {"ReLU", "LeakyReLU", "PReLU"} - {expected} & set(kinds)
    if activation == "leaky_relu":
        assert all(layer.negative_slope == pytest.approx(0.1) for layer in generator.layers
                   if isinstance(layer, keras.layers.LeakyReLU))
    images = generator(tf.random.normal((2, 8)), training=False)
    assert images.shape == (2, 12, 12, 1)


@pytest.mark.parametrize("cls, kwargs", [
    (networks.MLPGenerator, dict(latent_dim=12, image_shape=(8, 8, 1), hidden_units=(16,),
                                 activation="prelu", latent_distribution="uniform")),
    (networks.MLPDiscriminator, dict(image_shape=(8, 8, 1), hidden_units=(16,),
                                     activation="prelu", spectral_norm=True)),
    (networks.DCGANGenerator, dict(latent_dim=12, image_shape=(12, 12, 1), filters=4,
                                   activation="prelu", negative_slope=0.1,
                                   latent_distribution="uniform")),
    (networks.DCGANDiscriminator, dict(image_shape=(12, 12, 1), filters=4, activation="prelu",
                                       num_classes=3)),
])
def test_prelu_networks_round_trip_through_keras_files_in_safe_mode(cls, kwargs, tmp_path):
    model = cls(**kwargs)
    # Learned slopes that differ from their start, so the file must carry them.
    for layer in model.layers:
        if isinstance(layer, keras.layers.PReLU):
            layer.alpha.assign(np.random.default_rng(0).uniform(0, 0.5, layer.alpha.shape))
    config = model.get_config()
    for key, value in kwargs.items():
        assert config[key] == (list(value) if isinstance(value, tuple) else value)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is cls and loaded.get_config() == config
    inputs = tf.random.normal((3,) + tuple(model.inputs[0].shape[1:]))
    if kwargs.get("num_classes"):
        inputs = [inputs, tf.constant([0, 1, 2])]
    np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-6)


def test_a_generator_saved_before_the_new_options_loads_with_the_old_behaviour():
    # The config of an earlier gan_tf has no activation, negative_slope nor latent_distribution.
    old = {"name": "generator", "trainable": True, "latent_dim": 8, "image_shape": [12, 12, 1],
           "filters": 4, "batch_norm_momentum": 0.9, "num_classes": None, "embedding_dim": 50}
    generator = networks.DCGANGenerator.from_config(old)
    assert (generator.activation, generator.latent_distribution) == ("relu", "normal")
    assert generator.get_layer("up_1_relu") is not None


@pytest.mark.parametrize("cls, kwargs, message", [
    (networks.DCGANDiscriminator, dict(activation="relu"), "'leaky_relu', 'prelu'"),
    (networks.MLPDiscriminator, dict(activation="elu"), "argument activation"),
    (networks.DCGANGenerator, dict(activation="swish"), "'relu', 'leaky_relu', 'prelu'"),
    (networks.MLPGenerator, dict(negative_slope=1.5), "argument negative_slope"),
    (networks.DCGANGenerator, dict(latent_distribution="gaussian"), "'normal', 'uniform'"),
])
def test_activation_slope_and_latent_distribution_are_checked(cls, kwargs, message):
    with pytest.raises(UserError, match=message):
        cls(image_shape=(12, 12, 1), **kwargs)


# === The residual networks ===

@pytest.mark.parametrize("image_shape, start", [
    ((28, 28, 1), (7, 7)), ((32, 32, 3), (4, 4)), ((48, 48, 3), (3, 3)), ((64, 48, 3), (4, 3)),
    ((96, 128, 3), (3, 4)), ((12, 12, 1), (3, 3))])
def test_resnet_sizes_itself_to_the_images(image_shape, start):
    generator = networks.ResNetGenerator(latent_dim=8, image_shape=image_shape, filters=4)
    discriminator = networks.ResNetDiscriminator(image_shape=image_shape, filters=4)
    assert tuple(generator.get_layer("reshape").output.shape[1:3]) == start
    blocks = networks.resnet_upsamplings(image_shape)
    assert image_shape[0] == start[0] * 2 ** blocks
    # G: one up-block per halving; D: the optimized block, one down-block per further
    # halving and a last block at the start grid, its sum pooled.
    assert generator.get_layer(f"block_{blocks}_add").output.shape[1:3] == image_shape[:2]
    assert discriminator.get_layer(f"block_{blocks + 1}_add").output.shape[1:3] == start
    with pytest.raises(ValueError):
        generator.get_layer(f"block_{blocks + 1}_add")
    images = generator(tf.random.normal((2, 8)) * 10, training=True)
    assert images.shape == (2,) + image_shape
    assert float(tf.reduce_max(tf.abs(images))) <= 1
    assert discriminator(images, training=True).shape == (2, 1)


def test_resnet_widths_double_per_halving_up_to_sixteen_times():
    assert [networks.resnet_upsamplings((s, s, 3)) for s in (28, 32, 64, 128, 256, 512)] == [
        2, 3, 4, 5, 6, 6]
    generator = networks.ResNetGenerator(image_shape=(256, 256, 3), filters=2)
    discriminator = networks.ResNetDiscriminator(image_shape=(256, 256, 3), filters=2)
    assert generator.get_layer("reshape").output.shape[1:] == (4, 4, 32)  # capped at 16x
    assert [generator.get_layer(f"block_{b}_add").output.shape[-1] for b in range(1, 7)] == [
        32, 32, 16, 8, 4, 2]
    assert [discriminator.get_layer(f"block_{b}_add").output.shape[-1]
            for b in range(1, 8)] == [2, 4, 8, 16, 32, 32, 32]
    # At 128x128, BigGAN's widths (ch * [16, 16, 8, 4, 2, 1] in G, [1, 2, 4, 8, 16, 16] in D).
    generator = networks.ResNetGenerator(image_shape=(128, 128, 3), filters=1)
    discriminator = networks.ResNetDiscriminator(image_shape=(128, 128, 3), filters=1)
    assert [generator.get_layer("reshape").output.shape[-1]] + [
        generator.get_layer(f"block_{b}_add").output.shape[-1] for b in range(1, 6)] == [
        16, 16, 8, 4, 2, 1]
    assert [discriminator.get_layer(f"block_{b}_add").output.shape[-1]
            for b in range(1, 7)] == [1, 2, 4, 8, 16, 16]


@pytest.mark.parametrize("image_shape", [(27, 27, 1), (30, 30, 3), (8, 8, 1), (44, 18, 3)])
def test_resnet_refuses_shapes_it_cannot_take_with_the_fix(image_shape):
    for cls in (networks.ResNetGenerator, networks.ResNetDiscriminator):
        with pytest.raises(UserError) as error:
            cls(image_shape=image_shape)
        message = str(error.value)
        assert f"cannot take {image_shape[1]}x{image_shape[0]} (width x height) images" in message
        assert "divisible by 4" in message and "--image_size=32" in message
        assert "\n" not in message


def test_resnet_attention_goes_where_asked_and_starts_as_the_identity():
    kwargs = dict(image_shape=(32, 32, 3), filters=4)
    generator = networks.ResNetGenerator(latent_dim=8, attention_resolution=16, **kwargs)
    discriminator = networks.ResNetDiscriminator(attention_resolution=8, **kwargs)
    from gan_tf.layers import SelfAttention

    for model, height in ((generator, 16), (discriminator, 8)):
        attention = model.get_layer("attention")
        assert isinstance(attention, SelfAttention) and attention.input.shape[1] == height
        assert float(attention.gamma) == 0.0
    assert discriminator.get_layer("attention").spectral_norm
    plain = networks.ResNetGenerator(latent_dim=8, **kwargs)
    assert "SelfAttention" not in _layer_types(plain)
    # gamma = 0: with the same weights, the same images as without the block.
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(generator.get_layer(layer.name).get_weights())
    z = tf.random.normal((3, 8), seed=1)
    np.testing.assert_allclose(generator(z), plain(z), atol=1e-6)
    # The block learns: a gradient reaches gamma and the attention's convolutions.
    with tf.GradientTape() as tape:
        logits = discriminator(generator(z, training=True), training=True)
    variables = generator.get_layer("attention").trainable_variables
    gradients = tape.gradient(logits, variables)
    assert len(variables) == 5
    assert float(tf.reduce_max(tf.abs(gradients[-1] if variables[-1].name == "gamma"
                                      else gradients[0]))) > 0


@pytest.mark.parametrize("attention_resolution", [32, 4, 12, 2.0, True])
def test_resnet_refuses_an_attention_resolution_it_does_not_have(attention_resolution):
    with pytest.raises(UserError, match="attention_resolution"):
        networks.ResNetGenerator(image_shape=(32, 32, 3), filters=4,
                                 attention_resolution=attention_resolution)
    with pytest.raises(UserError, match="8, 16"):
        networks.ResNetDiscriminator(image_shape=(32, 32, 3), attention_resolution=32)
    with pytest.raises(UserError, match="only the resnet"):
        networks.make_generator("dcgan", 8, (32, 32, 3), attention_resolution=16)


def test_resnet_discriminator_is_spectrally_normalized_unless_told_otherwise():
    def normalized(model):
        return sum(isinstance(layer, keras.layers.SpectralNormalization)
                   for layer in model.layers)

    # 8 convolutions (3 per block with a 1x1 shortcut, 2 in the last one) and the logit.
    assert normalized(networks.make_discriminator("resnet", (12, 12, 1), filters=4)) == 9
    assert normalized(networks.make_discriminator("resnet", (12, 12, 1), filters=4,
                                                  spectral_norm=False)) == 0
    assert normalized(networks.make_discriminator("dcgan", (12, 12, 1), filters=4)) == 0
    assert normalized(networks.make_generator("resnet", 8, (12, 12, 1), filters=4)) == 0


def test_conditional_resnet_uses_class_batch_norm_in_g_and_projection_in_d():
    from gan_tf.layers import ConditionalBatchNormalization

    generator = networks.make_generator("resnet", 16, (28, 28, 1), filters=4, num_classes=10)
    discriminator = networks.make_discriminator("resnet", (28, 28, 1), filters=4,
                                                num_classes=10)
    assert [tuple(i.shape) for i in generator.inputs] == [(None, 16), (None,)]
    assert [tuple(i.shape) for i in discriminator.inputs] == [(None, 28, 28, 1), (None,)]
    normalizations = [layer for layer in generator.layers
                      if isinstance(layer, ConditionalBatchNormalization)]
    assert len(normalizations) == 4  # two per up-block; the output one is unconditional
    for layer in normalizations:  # they start as plain batch norm: gamma 1, beta 0
        gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
        assert gamma.shape == (10, layer.gamma.shape[-1]) and (gamma == 1).all()
        assert (beta == 0).all()
        layer.gamma.assign(np.random.default_rng(0).normal(1, 0.5, gamma.shape))
    projection = discriminator.get_layer("label_projection")
    projection.set_weights([np.random.default_rng(0).normal(size=w.shape)
                            for w in projection.get_weights()])
    z = tf.random.normal((4, 16), seed=0)
    threes, sevens = (generator([z, tf.fill([4], c)], training=False) for c in (3, 7))
    assert float(tf.reduce_max(tf.abs(threes - sevens))) > 1e-3  # G depends on the label
    logits = [discriminator([threes, tf.fill([4], c)]) for c in (3, 7)]
    assert logits[0].shape == (4, 1)
    assert float(tf.reduce_max(tf.abs(logits[0] - logits[1]))) > 1e-3


def test_resnet_under_mixed_bfloat16_computes_in_bfloat16_and_returns_float32():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        generator = networks.make_generator("resnet", 8, (16, 16, 3), filters=4,
                                            num_classes=3, attention_resolution=8)
        discriminator = networks.make_discriminator("resnet", (16, 16, 3), filters=4,
                                                    num_classes=3, attention_resolution=8)
    finally:
        keras.config.set_dtype_policy(previous)
    assert generator.get_layer("block_1_conv_1").compute_dtype == "bfloat16"
    assert generator.get_layer("block_1_bn_1").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in generator.weights + discriminator.weights)
    labels = tf.constant([0, 1, 2, 0])
    with tf.GradientTape() as tape:
        images = generator([tf.random.normal((4, 8)) * 10, labels], training=True)
        logits = discriminator([images, labels], training=True)
    assert images.dtype == tf.float32 and logits.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1 and logits.shape == (4, 1)
    gradients = tape.gradient(logits, generator.trainable_variables)
    assert all(g is not None and bool(tf.reduce_all(tf.math.is_finite(g))) for g in gradients)
