import json
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import ACROSS_BATCH_SIZES_ATOL, run_python
from gan_tf import losses, networks
from gan_tf.errors import UserError
from gan_tf.gan import (D_LATENTS, G_LATENTS, GAN, PENALTY_MIX, latent_distribution_of,
                        moving_averages, numpy_latents, sample_latents, training_draw)


def make_gan(loss="non_saturating", architecture="mlp", seed=0, **compile_kwargs):
    generator = networks.make_generator(architecture, 8, (12, 12, 1), filters=4)
    discriminator = networks.make_discriminator(architecture, (12, 12, 1), filters=4)
    gan = GAN(generator, discriminator, seed=seed)
    gan.compile(loss=loss, **compile_kwargs)
    return gan


def real_images(count=32, seed=0):
    rng = np.random.default_rng(seed)
    return np.tanh(rng.normal(size=(count, 12, 12, 1)) + 0.5).astype("float32")


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
@pytest.mark.slow
def test_fit_updates_both_networks_and_logs_the_metrics(architecture):
    gan = make_gan(architecture=architecture)
    before_g = [w.copy() for w in gan.generator.get_weights()]
    before_d = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(tf.data.Dataset.from_tensor_slices(real_images()).batch(8), epochs=2,
                      verbose=0, shuffle=False)
    assert set(history.history) == {"d_loss", "g_loss", "real_accuracy", "fake_accuracy",
                                     "d_grad_norm", "g_grad_norm"}
    for key, values in history.history.items():
        assert len(values) == 2 and all(np.isfinite(values)), key
    assert all(0 <= v <= 1 for v in history.history["real_accuracy"])
    assert all(v > 0 for v in history.history["d_grad_norm"] + history.history["g_grad_norm"])
    changed = lambda before, model: all(  # noqa: E731
        not np.array_equal(b, a) for b, a in zip(before, model.trainable_weights))
    assert changed(before_g, gan.generator) and changed(before_d, gan.discriminator)
    # One D update and one G update per step, 4 steps per epoch.
    assert int(gan.discriminator_optimizer.iterations) == 8
    assert int(gan.generator_optimizer.iterations) == 8


@pytest.mark.slow
def test_minimax_objective_is_the_design_notes():
    gan = make_gan(loss="minimax")
    assert gan.generator_loss_fn is losses.minimax_generator_loss
    history = gan.fit(real_images(), epochs=1, batch_size=8, verbose=0)
    # The design note's G minimizes log(1 - D(G(z))), which is negative.
    assert history.history["g_loss"][0] < 0
    assert make_gan().generator_loss_fn is losses.non_saturating_generator_loss


def test_compile_defaults_and_builds_both_optimizers():
    gan = make_gan()
    for optimizer in (gan.generator_optimizer, gan.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert float(optimizer.beta_1) == pytest.approx(0.5)
        assert len(optimizer.variables) > 2  # slots exist before the first step
    assert gan.optimizer is None  # no unused default optimizer in checkpoints
    with pytest.raises(ValueError, match="separate optimizer"):
        shared = keras.optimizers.Adam()
        make_gan(generator_optimizer=shared, discriminator_optimizer=shared)


def test_training_draws_are_a_function_of_seed_stream_and_step():
    first = training_draw(5, D_LATENTS, 3, [4, 8])
    np.testing.assert_array_equal(first, training_draw(5, D_LATENTS, tf.constant(3), [4, 8]))
    assert not np.array_equal(first, training_draw(5, D_LATENTS, 4, [4, 8]))
    assert not np.array_equal(first, training_draw(5, G_LATENTS, 3, [4, 8]))
    assert not np.array_equal(first, training_draw(6, D_LATENTS, 3, [4, 8]))


def test_generate_is_seeded_and_in_range():
    gan = make_gan()
    images = gan.generate(7, seed=3, batch_size=3)
    assert images.shape == (7, 12, 12, 1) and np.abs(images).max() <= 1
    np.testing.assert_array_equal(images, gan.generate(7, seed=3, batch_size=3))
    np.testing.assert_allclose(images, gan.generate(7, seed=3), atol=ACROSS_BATCH_SIZES_ATOL)
    np.testing.assert_allclose(images, gan.generator(sample_latents(7, 8, 3)), atol=1e-6)


@pytest.mark.parametrize("optimizer", [keras.optimizers.Adam, keras.optimizers.RMSprop])
def test_keras_file_round_trip_keeps_optimizer_state(optimizer, tmp_path):
    gan = make_gan(loss="minimax", discriminator_optimizer=optimizer(2e-4))
    gan.fit(real_images(), epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, GAN) and loaded.loss_name == "minimax"
    assert type(loaded.discriminator_optimizer) is optimizer
    assert int(loaded.generator_optimizer.iterations) == 4
    for a, b in zip(loaded.discriminator_optimizer.variables,
                    gan.discriminator_optimizer.variables):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.generate(3, seed=1), gan.generate(3, seed=1))


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from gan_tf import networks
    from gan_tf.gan import GAN

    images = np.tanh(np.random.default_rng(0).normal(size=(32, 12, 12, 1))).astype("float32")

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            gan = GAN(networks.make_generator("mlp", 8, (12, 12, 1)),
                      networks.make_discriminator("mlp", (12, 12, 1)), seed=1)
            gan.compile(loss="non_saturating")
        dataset = tf.data.Dataset.from_tensor_slices(images).batch(16)
        history = gan.fit(dataset, epochs=3, verbose=0).history
        return gan, history

    single, single_history = run(tf.distribute.get_strategy())
    mirrored, mirrored_history = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    differences = [float(np.abs(a - b).max()) for a, b in zip(
        single.generator.get_weights() + single.discriminator.get_weights(),
        mirrored.generator.get_weights() + mirrored.discriminator.get_weights())]
    print("RESULT " + json.dumps({
        "replicas": 2, "max_weight_difference": max(differences),
        "single": single_history, "mirrored": mirrored_history}))
""")


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device_on_the_same_global_batch():
    result = run_python(["-c", MIRRORED_SCRIPT], timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    report = json.loads(line[len("RESULT "):])
    # Same global batch of data and latents: the same updates up to float summation order.
    assert report["max_weight_difference"] < 1e-5, report
    for key in ("d_loss", "g_loss", "real_accuracy", "fake_accuracy"):
        np.testing.assert_allclose(report["mirrored"][key], report["single"][key], rtol=1e-4,
                                   err_msg=key)


def test_uncompiled_gan_saves_and_loads(tmp_path):
    generator = networks.make_generator("mlp", 8, (12, 12, 1))
    gan = GAN(generator, networks.make_discriminator("mlp", (12, 12, 1)))
    gan.save(str(tmp_path / "gan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "gan.keras"))
    assert not getattr(loaded, "compiled", False)
    np.testing.assert_array_equal(loaded.generate(2, seed=4), gan.generate(2, seed=4))


def test_generator_without_input_layer_needs_latent_dim():
    from gan_tf.errors import UserError

    generator = keras.Sequential([keras.layers.Dense(144, activation="tanh"),
                                  keras.layers.Reshape((12, 12, 1))])
    discriminator = networks.make_discriminator("mlp", (12, 12, 1))
    with pytest.raises(UserError, match="Pass latent_dim=N"):
        GAN(generator, discriminator)
    gan = GAN(generator, discriminator, latent_dim=6)
    gan.compile()
    history = gan.fit(real_images(), epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    assert gan.generate(3).shape == (3, 12, 12, 1)


# The residual networks take 3-7 s a loss here (tracing spectral norm): one runs in the quick
# suite, the others with the slow tests.
@pytest.mark.parametrize("loss, architecture", [
    (loss, architecture) if architecture != "resnet" or loss == "hinge"
    else pytest.param(loss, architecture, marks=pytest.mark.slow)
    for architecture in ("mlp", "dcgan", "resnet")
    for loss in ("minimax", "non_saturating", "wasserstein", "hinge", "least_squares")])
@pytest.mark.slow
def test_every_loss_on_every_architecture_trains(loss, architecture):
    gan = make_gan(loss=loss, architecture=architecture)
    kernels = [v for v in gan.generator.trainable_variables
               + gan.discriminator.trainable_variables if "kernel" in v.path]
    before = [np.array(v) for v in kernels]
    history = gan.fit(real_images(16), epochs=1, batch_size=8, verbose=0)
    # Every kernel of both networks moved. (Biases need not: under the Wasserstein loss the
    # gradient of D's last bias is 1 - 1 = 0.)
    assert len(kernels) >= 4
    for old, variable in zip(before, kernels):
        assert not np.array_equal(old, variable), variable.path
    assert all(np.isfinite(v[0]) for v in history.history.values())


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
@pytest.mark.slow
def test_penalties_steps_and_spectral_norm_together(architecture):
    generator = networks.make_generator(architecture, 8, (12, 12, 1), filters=4)
    discriminator = networks.make_discriminator(architecture, (12, 12, 1), filters=4,
                                                spectral_norm=True)
    assert any(isinstance(layer, keras.layers.SpectralNormalization)
               for layer in discriminator.layers)
    gan = GAN(generator, discriminator)
    gan.compile(loss="wasserstein", gradient_penalty=10.0, r1_penalty=1.0,
                discriminator_steps=3)
    history = gan.fit(real_images(16), epochs=1, batch_size=8, verbose=0)
    assert {"gradient_penalty", "r1_penalty"} <= set(history.history)
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert history.history["gradient_penalty"][0] > 0
    assert int(gan.discriminator_optimizer.iterations) == 3 * 2
    assert int(gan.generator_optimizer.iterations) == 2


def test_penalty_draws_are_uniform_per_sample():
    values = np.asarray(training_draw(0, PENALTY_MIX, 0, [256], uniform=True))
    assert values.shape == (256,) and 0 <= values.min() and values.max() < 1
    assert 0.4 < values.mean() < 0.6 and len(np.unique(values)) == 256


def test_invalid_compile_options():
    from gan_tf.errors import UserError

    with pytest.raises(UserError, match="gradient_penalty=-1"):
        make_gan(gradient_penalty=-1)
    with pytest.raises(UserError, match="discriminator_steps=0"):
        make_gan(discriminator_steps=0)


def test_compile_options_survive_keras_file_round_trip(tmp_path):
    gan = make_gan(loss="hinge", gradient_penalty=5.0, discriminator_steps=2, mode_seeking=0.5)
    gan.save(str(tmp_path / "gan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "gan.keras"))
    assert (loaded.loss_name, loaded.gradient_penalty_weight, loaded.discriminator_steps,
            loaded.mode_seeking_weight) == ("hinge", 5.0, 2, 0.5)


@pytest.mark.slow
def test_ema_generator_holds_the_optimizer_averages():
    gan = make_gan(architecture="dcgan",
                   generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5, use_ema=True,
                                                            ema_momentum=0.5))
    assert gan.uses_ema and not make_gan().uses_ema
    gan.fit(real_images(16), epochs=2, batch_size=8, verbose=0)
    weights = len(gan.weights)
    averaged = gan.sampling_generator()
    optimizer = gan.generator_optimizer
    averages = moving_averages(optimizer)
    for target, source in zip(averaged.weights, gan.generator.weights):
        expected = averages[id(source)] if source.trainable else source
        np.testing.assert_array_equal(target, expected, err_msg=source.path)
    assert any(not np.array_equal(a, v) for a, v in zip(
        averaged.trainable_weights, gan.generator.trainable_weights))
    # Not tracked: the GAN's weights (and so its .keras files) are unchanged.
    assert len(gan.weights) == weights and all(layer is not averaged for layer in gan.layers)
    np.testing.assert_array_equal(gan.generate(3, seed=2),
                                  averaged(sample_latents(3, 8, 2), training=False))


def make_conditional_gan(architecture="mlp", num_classes=3, **compile_kwargs):
    generator = networks.make_generator(architecture, 8, (12, 12, 1), filters=4,
                                        num_classes=num_classes)
    discriminator = networks.make_discriminator(architecture, (12, 12, 1), filters=4,
                                                num_classes=num_classes)
    gan = GAN(generator, discriminator, seed=0)
    gan.compile(**compile_kwargs)
    return gan


def labelled_dataset(count=16, num_classes=3, batch=8):
    labels = np.arange(count, dtype=np.int32) % num_classes
    return tf.data.Dataset.from_tensor_slices((real_images(count), labels)).batch(batch)


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_conditional_gan_trains_both_networks_and_their_label_embeddings(architecture):
    gan = make_conditional_gan(architecture)
    assert gan.num_classes == 3
    variables = gan.generator.trainable_variables + gan.discriminator.trainable_variables
    embeddings = [v for v in variables if "label_" in v.path]
    assert len(embeddings) == 2  # G's embedding and D's projection
    before = [np.array(v) for v in variables]
    history = gan.fit(labelled_dataset(), epochs=2, verbose=0, shuffle=False)
    assert all(np.isfinite(v).all() for v in history.history.values())
    for old, variable in zip(before, variables):
        if "bias" not in variable.path:
            assert not np.array_equal(old, variable), variable.path


def test_conditional_generate_makes_the_classes_asked_for():
    gan = make_conditional_gan()
    gan.fit(labelled_dataset(), epochs=1, verbose=0, shuffle=False)
    z = sample_latents(6, 8, 4)
    expected = {
        "balanced": (None, [0, 1, 2, 0, 1, 2]),
        "one class": (2, [2] * 6),
        "listed": ([1, 0, 0, 2, 2, 1], [1, 0, 0, 2, 2, 1]),
    }
    for name, (labels, classes) in expected.items():
        images = gan.generate(6, seed=4, labels=labels, batch_size=4)
        np.testing.assert_allclose(
            images, gan.generator([z, tf.constant(classes)], training=False), atol=1e-6,
            err_msg=name)
    from gan_tf.errors import UserError

    for bad in (3, -1, [0, 1], [[0] * 6], np.full(6, 0.5)):
        with pytest.raises(UserError, match="labels"):
            gan.generate(6, labels=bad)
    with pytest.raises(UserError, match="not class-conditional"):
        make_gan().generate(2, labels=1)


def test_conditional_gan_refuses_unlabelled_data_and_mismatched_networks():
    from gan_tf.errors import UserError

    gan = make_conditional_gan()
    with pytest.raises(UserError, match="data has no labels"):
        gan.fit(real_images(16), epochs=1, batch_size=8, verbose=0)
    with pytest.raises(UserError, match="num_classes=3"):
        GAN(networks.make_generator("mlp", 8, (12, 12, 1), num_classes=3),
            networks.make_discriminator("mlp", (12, 12, 1)))


@pytest.mark.slow
def test_ada_probability_follows_the_sign_of_d_on_real_images():
    # (The step size, sign(r_t - target) * images / ramp, is augment.ada_adjustment's test.)
    assert float(make_gan(augment="ada").ada_p) == 0
    # A D that beats G on 16 images pushes p up; p stays in [0, 1] and is logged every epoch.
    history = make_gan(augment="ada", ada_ramp_images=64).fit(
        real_images(16), epochs=3, batch_size=8, verbose=0).history
    assert all(0 <= p <= 1 for p in history["ada_p"]) and max(history["ada_p"]) > 0


@pytest.mark.slow
def test_ada_probability_is_checkpointed_and_compile_options_round_trip(tmp_path):
    from gan_tf.callbacks import ResumableCheckpoint

    gan = make_conditional_gan(augment="ada", ada_target=0.7, ada_ramp_images=5000)
    gan.fit(labelled_dataset(), epochs=1, verbose=0, shuffle=False)
    gan.ada_p.assign(0.37)
    ResumableCheckpoint(tmp_path / "checkpoints", items=gan.checkpoint_items(),
                        verbose=0).save(1)
    fresh = make_conditional_gan(augment="ada")
    assert ResumableCheckpoint(tmp_path / "checkpoints", items=fresh.checkpoint_items(),
                               verbose=0).restore() == 1
    assert float(fresh.ada_p) == pytest.approx(0.37)
    np.testing.assert_array_equal(fresh.generate(4, seed=1), gan.generate(4, seed=1))
    gan.save(str(tmp_path / "gan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "gan.keras"))
    assert (loaded.augment, loaded.ada_target, loaded.ada_ramp_images, loaded.num_classes) == (
        "ada", 0.7, 5000, 3)
    assert float(loaded.ada_p) == pytest.approx(0.37)  # p is a weight of the .keras file too
    np.testing.assert_array_equal(loaded.generate(4, seed=1, labels=2),
                                  gan.generate(4, seed=1, labels=2))


def test_ema_generator_before_the_first_step_is_the_generator():
    gan = make_gan(generator_optimizer=keras.optimizers.Adam(use_ema=True, ema_momentum=0.9))
    assert gan.sampling_generator() is gan.generator  # the averages are set by step 1
    np.testing.assert_array_equal(gan.generate(2, seed=1),
                                  gan.generator(sample_latents(2, 8, 1), training=False))


def hand_written_twins(gan):
    """Copies of the GAN's networks and fresh optimizers of its defaults, for a step by hand."""
    generator = keras.models.clone_model(gan.generator)
    discriminator = keras.models.clone_model(gan.discriminator)
    generator.set_weights(gan.generator.get_weights())
    discriminator.set_weights(gan.discriminator.get_weights())
    return (generator, discriminator, keras.optimizers.Adam(2e-4, beta_1=0.5),
            keras.optimizers.Adam(2e-4, beta_1=0.5))


def test_simultaneous_update_is_the_tutorial_step_on_gan_tf_latents():
    """--update=simultaneous: D and G gradients from one forward pass, as a hand-written step."""
    gan = make_gan(update="simultaneous")
    generator, discriminator, g_optimizer, d_optimizer = hand_written_twins(gan)
    batch = real_images(8)
    latents = training_draw(gan.seed, D_LATENTS, 0, [8, 8])  # what the GAN draws at step 0
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake = generator(latents, training=True)
        real_logits = discriminator(batch, training=True)
        fake_logits = discriminator(fake, training=True)
        d_loss = losses.non_saturating_discriminator_loss(real_logits, fake_logits)
        g_loss = losses.non_saturating_generator_loss(fake_logits)
    d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                    discriminator.trainable_variables))
    g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables),
                                    generator.trainable_variables))

    history = gan.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    assert int(gan.generator_optimizer.iterations) == int(
        gan.discriminator_optimizer.iterations) == 1
    np.testing.assert_allclose(history.history["d_loss"][0], float(d_loss), rtol=1e-6)
    np.testing.assert_allclose(history.history["g_loss"][0], float(g_loss), rtol=1e-6)
    for ours, theirs in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                            generator.get_weights() + discriminator.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-7)
    with pytest.raises(ValueError, match="discriminator_steps > 1"):
        make_gan(update="simultaneous", discriminator_steps=2)


@pytest.mark.slow
def test_mode_seeking_is_a_hand_written_step_with_paired_labels():
    """mode_seeking: G's batch drawn in two halves for the same labels, penalty added to G."""
    gan = make_conditional_gan("mlp", mode_seeking=2.0)
    generator, discriminator, g_optimizer, d_optimizer = hand_written_twins(gan)
    batch = tf.constant(real_images(7))
    labels = tf.constant([2, 0, 1, 1, 0, 2, 1], tf.int32)
    # D's step is the usual one.
    latents = training_draw(gan.seed, D_LATENTS, 0, [7, 8])
    with tf.GradientTape() as tape:
        fake = generator([latents, labels], training=True)
        d_loss = losses.non_saturating_discriminator_loss(
            discriminator([batch, labels], training=True),
            discriminator([fake, labels], training=True))
    d_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                    discriminator.trainable_variables))
    # G's: pairs (i, i + 3) share a label (the first half's); the odd last one keeps its own.
    paired = tf.constant([2, 0, 1, 2, 0, 1, 1], tf.int32)
    latents = training_draw(gan.seed, G_LATENTS, 0, [7, 8])
    with tf.GradientTape() as tape:
        fake = generator([latents, paired], training=True)
        g_loss = losses.non_saturating_generator_loss(
            discriminator([fake, paired], training=True))
        penalty = losses.mode_seeking_penalty(fake, latents)
        total = g_loss + 2.0 * penalty
    g_optimizer.apply_gradients(zip(tape.gradient(total, generator.trainable_variables),
                                    generator.trainable_variables))

    history = gan.fit(tf.data.Dataset.from_tensors((batch, labels)), epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["g_loss"][0], float(g_loss), rtol=1e-5)
    np.testing.assert_allclose(history.history["mode_seeking"][0], float(penalty), rtol=1e-5)
    assert float(penalty) > 0
    for ours, theirs in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                            generator.get_weights() + discriminator.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    # Off by default (no metric, no pairing); refused where it cannot act.
    assert "mode_seeking" not in make_gan().fit(real_images(8), batch_size=8,
                                                verbose=0).history
    with pytest.raises(ValueError, match="'alternating' with mode_seeking"):
        make_gan(update="simultaneous", mode_seeking=1.0)
    with pytest.raises(ValueError, match="mode_seeking=-1"):
        make_gan(mode_seeking=-1)


def test_fit_refuses_integer_pixels_and_unscaled_float_pixels():
    from gan_tf.errors import UserError

    gan = make_gan()
    pixels = np.random.default_rng(0).integers(0, 256, (16, 12, 12, 1), dtype=np.uint8)
    with pytest.raises(UserError, match=r"received uint8 images.*x / 127\.5 - 1"):
        gan.fit(pixels, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"values beyond \[-1, 1\]"):
        gan.fit(pixels.astype("float32"), epochs=1, batch_size=8, verbose=0)
    assert int(gan.generator_optimizer.iterations) == 0  # no step was taken on either
    gan.fit(pixels.astype("float32") / 127.5 - 1, epochs=1, batch_size=8, verbose=0)
    assert int(gan.generator_optimizer.iterations) == 2


def test_latents_follow_the_distribution_asked_for():
    normal = sample_latents(4000, 8, 3)
    np.testing.assert_array_equal(normal, sample_latents(4000, 8, 3, "normal"))
    uniform = sample_latents(4000, 8, 3, "uniform").numpy()
    np.testing.assert_array_equal(uniform, sample_latents(4000, 8, 3, "uniform"))
    assert -1 <= uniform.min() < -0.99 and 0.99 < uniform.max() <= 1
    assert abs(uniform.mean()) < 0.02 and uniform.std() == pytest.approx(3 ** -0.5, abs=0.01)
    assert np.abs(normal).max() > 3  # a normal draw of 32,000 values goes beyond [-1, 1]
    fixed = numpy_latents(np.random.default_rng(0), (4000, 8), "uniform")
    assert fixed.dtype == np.float32 and -1 <= fixed.min() and fixed.max() <= 1
    np.testing.assert_array_equal(numpy_latents(np.random.default_rng(0), (3, 2)),
                                  np.random.default_rng(0).standard_normal((3, 2)).astype(
                                      np.float32))
    with pytest.raises(UserError, match="latent_distribution='gaussian'"):
        sample_latents(4, 8, 3, "gaussian")


def test_the_latent_distribution_is_the_generators():
    uniform = networks.make_generator("mlp", 8, (12, 12, 1), latent_distribution="uniform")
    assert latent_distribution_of(uniform) == "uniform"
    own = keras.Sequential([keras.Input((8,)), keras.layers.Dense(144, activation="tanh"),
                            keras.layers.Reshape((12, 12, 1))])
    assert latent_distribution_of(own) == "normal"  # a user's Keras generator
    own.latent_distribution = "uniform"
    assert latent_distribution_of(own) == "uniform"
    own.latent_distribution = "cauchy"
    with pytest.raises(UserError, match="'normal', 'uniform'"):
        latent_distribution_of(own)


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_training_latents_follow_the_generators_distribution(distribution, update):
    generator = networks.make_generator("mlp", 8, (12, 12, 1),
                                        latent_distribution=distribution)
    gan = GAN(generator, networks.make_discriminator("mlp", (12, 12, 1)), seed=4)
    gan.compile(update=update, run_eagerly=True)
    seen = []
    generate = gan._generate

    def spy(latents, labels, training=False, generator=None):
        if training:
            seen.append(np.asarray(latents))
        return generate(latents, labels, training=training, generator=generator)

    gan._generate = spy
    gan.fit(tf.data.Dataset.from_tensor_slices(real_images(16)).batch(8), epochs=1, verbose=0,
            shuffle=False)
    assert len(seen) == (4 if update == "alternating" else 2)  # D (and G) latents per step
    streams = [D_LATENTS, G_LATENTS] if update == "alternating" else [D_LATENTS]
    expected = []
    for step in range(2):
        for stream in streams:
            draw = training_draw(4, stream, step, [8, 8], uniform=distribution == "uniform")
            expected.append(2 * draw - 1 if distribution == "uniform" else draw)
    for latents, wanted in zip(seen, expected, strict=True):
        np.testing.assert_array_equal(latents, wanted)
    values = np.concatenate(seen)
    if distribution == "uniform":
        assert -1 <= values.min() and values.max() <= 1
    else:
        assert np.abs(values).max() > 1.5
    np.testing.assert_array_equal(
        gan.generate(5, seed=2), gan.generator(sample_latents(5, 8, 2, distribution)))


def test_networks_that_do_not_fit_together_are_refused_when_the_gan_is_built():
    generator = networks.make_generator("mlp", 8, (12, 12, 1), filters=4)
    with pytest.raises(UserError, match=r"makes images of shape \(12, 12, 1\), but the "
                                        r"discriminator takes images of shape \(28, 28, 1\)"):
        GAN(generator, networks.make_discriminator("mlp", (28, 28, 1), filters=4))
    # Networks without keras.Input: the first forward pass names the problem too.
    unbuilt_g = keras.Sequential([keras.layers.Dense(144, activation="tanh"),
                                  keras.layers.Reshape((12, 12, 1))])
    unbuilt_d = keras.Sequential([keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
    GAN(unbuilt_g, unbuilt_d, latent_dim=8)  # fits: builds both
    wrong_d = keras.Sequential([keras.layers.Reshape((28, 28, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(1)])
    with pytest.raises(UserError, match="discriminator cannot take the generator's images"):
        GAN(keras.Sequential([keras.layers.Dense(144, activation="tanh"),
                              keras.layers.Reshape((12, 12, 1))]), wrong_d, latent_dim=8)


def test_the_conditional_convention_is_checked_when_the_gan_is_built():
    generator = networks.make_generator("mlp", 8, (12, 12, 1), filters=4)
    discriminator = networks.make_discriminator("mlp", (12, 12, 1), filters=4)
    generator.num_classes = discriminator.num_classes = 3  # but G takes latents alone
    with pytest.raises(UserError, match="num_classes=3 but one input"):
        GAN(generator, discriminator)
    latents, labels = keras.Input((8,)), keras.Input((), dtype="int32")
    images = keras.layers.Reshape((12, 12, 1))(keras.layers.Dense(144, activation="tanh")(
        keras.layers.Concatenate()([latents, keras.layers.Embedding(3, 3)(labels)])))
    two_inputs = keras.Model([latents, labels], images)  # no num_classes attribute
    with pytest.raises(UserError, match="two inputs but has no num_classes"):
        GAN(two_inputs, networks.make_discriminator("mlp", (12, 12, 1), filters=4))


def test_a_discriminator_that_outputs_a_probability_is_warned_about(messages):
    generator = networks.make_generator("mlp", 8, (12, 12, 1), filters=4)
    sigmoid_d = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(1, activation="sigmoid")])
    GAN(generator, sigmoid_d)
    (warning,) = [m for m in messages if "take logits" in m]
    assert "ends in a sigmoid activation" in warning and "Dense(1)" in warning
    messages.clear()
    GAN(generator, networks.make_discriminator("mlp", (12, 12, 1), filters=4))
    assert not [m for m in messages if "take logits" in m]
