"""`TrainingHealth`: D-overpowering and collapse warnings, on real runs and crafted inputs.

The thresholds' calibration (healthy and failing runs of every loss, MLP and DCGAN,
conditional) is in BUILD_NOTES.md; these tests pin the behaviour on runs of a few seconds.
"""

import json
import types

import keras
import numpy as np
import pytest

from gan_tf import data as data_lib
from gan_tf import metrics
from gan_tf import train_lib
from gan_tf.errors import UserError
from gan_tf.health import TrainingHealth

from conftest import collect_messages

KEYS = {"health_d_overpowering", "health_collapse", "sample_diversity", "sample_duplicates"}
# Judge from the first epoch with a window of 3 (2 bad of 3 start a problem): the tiny runs
# are a few dozen steps long.
QUICK = dict(warmup_epochs=0, patience=3)


def digits(count=256):
    """Real images for the reference spread, class-balanced, with their labels."""
    full = data_lib.load_images()
    chosen = data_lib.subset_indices(full.labels, len(full), count, seed=1)
    return full.images[chosen], full.labels[chosen]


def train(make_tiny_config, health, **overrides):
    config = make_tiny_config(**overrides)
    return train_lib.train(config, extra_callbacks=[health], verbose=0)


@pytest.fixture
def messages():
    """What TrainingHealth logged during the test."""
    with collect_messages("gan_tf.callbacks.training_health") as collected:
        yield collected


def dense_generator(latent_dim=4, image_shape=(8, 8, 1), seed=0):
    """z -> tanh(Wz + b) as images: every latent gives a different image."""
    size = int(np.prod(image_shape))
    initializer = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(size, activation="tanh", kernel_initializer=initializer,
                           bias_initializer=keras.initializers.RandomNormal(seed=seed + 1)),
        keras.layers.Reshape(image_shape)])


def conditional_generator(latent_scales, latent_dim=4, image_shape=(8, 8, 1)):
    """[z, y] -> tanh(class image + scale[y] * Wz): class y ignores z where its scale is 0."""
    size = int(np.prod(image_shape))
    num_classes = len(latent_scales)
    latents = keras.Input((latent_dim,))
    labels = keras.Input((), dtype="int32")
    class_image = keras.layers.Embedding(
        num_classes, size, embeddings_initializer=keras.initializers.RandomUniform(
            -1.0, 1.0, seed=3))(labels)
    scale = keras.layers.Embedding(
        num_classes, 1, trainable=False, embeddings_initializer=keras.initializers.Constant(
            np.asarray(latent_scales, np.float32)[:, None]))(labels)
    varying = keras.layers.Dense(size, kernel_initializer=keras.initializers.RandomNormal(
        stddev=1.0, seed=4))(latents)
    images = keras.layers.Activation("tanh")(class_image + scale * varying)
    model = keras.Model([latents, labels], keras.layers.Reshape(image_shape)(images))
    model.num_classes = num_classes
    return model


def epochs(health, logs_per_epoch, start=0):
    """Feeds `on_epoch_end` as fit would; returns the logs after each epoch."""
    seen = []
    for index, values in enumerate(logs_per_epoch):
        logs = dict(values)
        health.on_epoch_end(start + index, logs)
        seen.append(logs)
    return seen


# --- Real runs -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_healthy_run_logs_every_key_and_gives_no_warning(make_tiny_config, messages):
    images, _ = digits()
    health = TrainingHealth(real_images=images, **QUICK)
    result = train(make_tiny_config, health, epochs=6)
    history = result.history
    assert KEYS <= set(history)
    assert len(history["sample_diversity"]) == 6
    assert history["health_d_overpowering"] == [0.0] * 6
    assert history["health_collapse"] == [0.0] * 6
    # The samples stay spread out and have no near-copies.
    assert min(history["sample_diversity"]) > 0.9
    assert max(history["sample_duplicates"]) == 0.0
    assert health.events == [] and messages == []


@pytest.mark.slow
def test_a_frozen_generator_is_overpowered_and_warned_about_once(make_tiny_config, messages):
    images, _ = digits()
    health = TrainingHealth(real_images=images, **QUICK)
    # Learning rate 1e-9: G stays as initialised while D learns to reject its images.
    result = train(make_tiny_config, health, epochs=7, generator_learning_rate=1e-9)
    flags = result.history["health_d_overpowering"]
    assert flags[-1] == 1.0 and flags[0] == 0.0
    assert min(result.history["fake_accuracy"][-3:]) >= 0.95
    assert [(e["check"], e["event"]) for e in health.events] == [("d_overpowering", "start")]
    (warning,) = health.warnings
    assert messages == [warning]
    first = flags.index(1.0) + 1
    assert f"at epoch {first}" in warning and "discriminator is overpowering" in warning
    assert "r1_penalty=10" in warning and "spectral_norm=True" in warning
    # The frozen generator's samples do not change, so they do not collapse either.
    assert result.history["health_collapse"] == [0.0] * 7


@pytest.mark.slow
def test_a_generator_that_collapses_for_real_is_warned_about(make_tiny_config):
    images, _ = digits()
    health = TrainingHealth(real_images=images, **QUICK)
    # G's learning rate 50x the default: within 32 steps every latent gives the same few
    # images (measured: all 256 samples have a near-copy from epoch 2).
    result = train(make_tiny_config, health, epochs=4, max_examples=1024,
                   generator_learning_rate=1e-2)
    history = result.history
    assert history["sample_duplicates"][0] == 0.0
    assert max(history["sample_duplicates"][1:]) >= 0.9
    assert history["health_collapse"][-1] == 1.0
    assert [(e["check"], e["event"]) for e in health.events] == [("collapse", "start")]
    assert "samples are collapsing" in health.warnings[0]
    assert "near-copy" in health.warnings[0]


def test_in_a_plain_keras_project_it_measures_the_decoder_and_skips_the_d_check(messages):
    decoder = dense_generator()
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, decoder(keras.layers.Dense(4)(keras.layers.Flatten()(inputs))))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x = np.tanh(np.random.default_rng(0).normal(size=(32, 8, 8, 1))).astype("float32")
    health = TrainingHealth(generator=decoder, num_samples=32)
    history = model.fit(x, x, epochs=3, batch_size=8, verbose=0, callbacks=[health]).history
    assert {"sample_diversity", "sample_duplicates", "health_collapse"} <= set(history)
    assert "health_d_overpowering" not in history
    assert messages == ["TrainingHealth: the logs have no real_accuracy and fake_accuracy; "
                        "the D-overpowering check is off."]


# --- D overpowering on crafted logs ----------------------------------------------------


def crafted(messages, **options):
    messages.clear()
    health = TrainingHealth(generator=dense_generator(), every_n_epochs=1000, **options)
    health.on_train_begin()
    return health, messages


def accuracies(*pairs):
    return [{"real_accuracy": real, "fake_accuracy": fake} for real, fake in pairs]


def test_overpowering_starts_on_most_of_the_window_warns_once_and_ends_after_a_clean_run(
        messages):
    health, messages = crafted(messages, warmup_epochs=2, patience=3)
    logs = epochs(health, accuracies(
        (1.0, 1.0), (1.0, 1.0),  # epochs 1-2: warm-up, not judged
        (0.99, 0.97),  # 3: bad
        (0.99, 0.80),  # 4: good
        (0.99, 0.99),  # 5: bad -> 2 of the last 3: starts
        (1.0, 1.0), (1.0, 1.0), (0.97, 0.7), (1.0, 1.0),  # 6-9: still on, no new warning
        (0.9, 0.9), (0.8, 0.99),  # 10-11: good, good
        (0.99, 0.99),  # 12: bad: the clean run restarts
        (0.9, 0.9), (0.9, 0.9), (0.6, 0.7),  # 13-15: 3 good in a row: ends at 15
    ))
    flags = [entry["health_d_overpowering"] for entry in logs]
    assert flags == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert [(e["epoch"], e["event"]) for e in health.events] == [(5, "start"), (15, "end")]
    warning, note = messages
    assert warning.startswith("Warning: the discriminator is overpowering the generator "
                              "(since epoch 3): at epoch 5 it classifies 99.0% of real and "
                              "99.0% of generated images correctly")
    assert "in 2 of the last 3 epochs (lowest 97.0%)" in warning
    assert note.startswith("Note: the discriminator no longer overpowers the generator (it "
                           "did since epoch 3)")
    assert "at epoch 15 real 60.0%, generated 70.0%" in note


def test_overpowering_needs_both_accuracies_and_waits_for_the_warm_up(messages):
    health, messages = crafted(messages, warmup_epochs=5, patience=3)
    # D always right on real images but fooled by half the fakes: G still learns.
    logs = epochs(health, accuracies(*[(1.0, 0.5)] * 10))
    assert all(entry["health_d_overpowering"] == 0 for entry in logs) and not messages
    health, messages = crafted(messages, warmup_epochs=5, patience=3)
    logs = epochs(health, accuracies(*[(1.0, 1.0)] * 7))
    # Judged from epoch 6; 2 bad of the window start the problem at epoch 7.
    assert [entry["health_d_overpowering"] for entry in logs] == [0, 0, 0, 0, 0, 0, 1]
    assert len(messages) == 1 and "(since epoch 6): at epoch 7" in messages[0]


def test_wasserstein_critics_have_no_accuracy_rule(messages):
    health, messages = crafted(messages, warmup_epochs=0, patience=1)
    health.set_model(types.SimpleNamespace(loss_name="wasserstein"))
    logs = epochs(health, accuracies(*[(1.0, 1.0)] * 3))
    assert all("health_d_overpowering" not in entry for entry in logs)
    assert messages == ["TrainingHealth: a Wasserstein critic's outputs have no real/fake "
                        "threshold; the D-overpowering check is off."]


# --- Collapse on synthetic generators --------------------------------------------------


def test_a_generator_that_ignores_its_latents_is_collapse_and_a_diverse_one_is_not():
    real = np.asarray(dense_generator(seed=7)(np.random.default_rng(1).normal(
        size=(64, 4)).astype("float32")))
    for reference in (None, real):
        diverse = TrainingHealth(generator=dense_generator(), real_images=reference,
                                 num_samples=64)
        statistics = diverse.measure()
        assert statistics["duplicates"] == 0.0 and statistics["diversity"] > 0.5
        constant = TrainingHealth(generator=dense_generator(), real_images=reference,
                                  num_samples=64)
        images = np.repeat(diverse.samples()[:1], 64, axis=0)  # one image for every latent
        statistics = constant.measure(images)
        assert statistics["duplicates"] == 1.0 and statistics["diversity"] == 0.0


def test_a_generator_collapsing_during_training_warns_then_recovers(messages):
    generator = dense_generator()
    dense = generator.layers[0]
    kernel = np.asarray(dense.kernel).copy()
    health = TrainingHealth(generator=generator, real_images=np.asarray(generator(
        np.random.default_rng(5).normal(size=(64, 4)).astype("float32"))), num_samples=64, **QUICK)
    health.on_train_begin()
    flags = []
    # Epochs 1-2 diverse, 3-6 the latents' weight shrinks 100x (every sample near the same
    # image), 7-9 restored.
    for epoch, scale in enumerate([1, 1, 0.01, 0.01, 0.01, 0.01, 1, 1, 1]):
        dense.kernel.assign(kernel * scale)
        logs = {}
        health.on_epoch_end(epoch, logs)
        flags.append(logs["health_collapse"])
        if scale != 1:
            assert logs["sample_duplicates"] == 1.0 and logs["sample_diversity"] < 0.1
    assert flags == [0, 0, 0, 1, 1, 1, 1, 1, 0]
    assert [(e["epoch"], e["event"]) for e in health.events] == [(4, "start"), (9, "end")]
    warning, note = [event["message"] for event in health.events]
    assert "(since epoch 3; at 2 of the last 3 evaluations): at epoch 4, of 64 fixed " \
           "latent vectors, 100% give a near-copy" in warning
    assert note.startswith("Note: the samples are diverse again at epoch 9")
    assert messages[1:] == [warning, note]  # after the note that the D check is off


def test_every_n_epochs_measures_only_those_epochs():
    health = TrainingHealth(generator=dense_generator(), every_n_epochs=2, num_samples=16)
    health.on_train_begin()
    logs = epochs(health, [{}] * 4)
    assert ["sample_diversity" in entry for entry in logs] == [False, True, False, True]
    assert all(entry["health_collapse"] == 0 for entry in logs)


# --- Conditional generators ------------------------------------------------------------


def test_conditional_diversity_is_measured_within_each_class(messages):
    # Class 1 ignores its latents; classes 0 and 2 use them.
    health = TrainingHealth(generator=conditional_generator([1.0, 0.0, 1.0]), num_samples=96,
                            **QUICK)
    health.on_train_begin()
    logs = epochs(health, [{}] * 2)
    assert logs[-1]["health_collapse"] == 1.0
    statistics = health.measure()
    by_class = {g["class"]: g for g in statistics["groups"]}
    assert by_class[1]["duplicates"] == 1.0 and by_class[1]["diversity"] == 0.0
    assert by_class[0]["duplicates"] == by_class[2]["duplicates"] == 0.0
    assert statistics["duplicates"] == 1.0  # the worst class is logged
    assert "within 1 of 3 classes (1; worst: class 1)" in health.warnings[0]
    # Measured across classes the same samples would pass: a third are near-copies.
    images = health.samples()
    threshold = by_class[1]["threshold"]
    assert metrics.near_copy_fraction(metrics.pixel_distances(images), threshold) == \
        pytest.approx(1 / 3, abs=0.02)
    assert health.max_duplicates > 1 / 3


def test_a_diverse_conditional_generator_passes_against_each_class_s_real_images(messages):
    generator = conditional_generator([1.0, 1.0, 1.0])
    rng = np.random.default_rng(2)
    real_labels = np.repeat(np.arange(3), 30)
    real = np.asarray(generator([rng.normal(size=(90, 4)).astype("float32"),
                                 real_labels.astype("int32")]))
    health = TrainingHealth(generator=generator, real_images=real, real_labels=real_labels,
                            num_samples=60, **QUICK)
    health.on_train_begin()
    logs = epochs(health, [{}] * 3)
    assert [entry["health_collapse"] for entry in logs] == [0, 0, 0] and not health.events
    statistics = health.measure()
    # Each class against its own real images, of about the same spread.
    for group in statistics["groups"]:
        assert group["reference"] is not None
        assert 0.7 < group["spread"] / group["reference"] < 1.3
        assert group["duplicates"] == 0.0


def test_a_conditional_generator_needs_two_samples_per_class():
    health = TrainingHealth(generator=conditional_generator([1.0] * 10), num_samples=16)
    with pytest.raises(UserError, match="num_samples=16.*at least 2 per class.*20 for 10"):
        health.on_train_begin()


# --- Arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(every_n_epochs=0), "every_n_epochs=0"),
    (dict(num_samples=1), "num_samples=1"),
    (dict(patience=0), "patience=0"),
    (dict(warmup_epochs=-1), "warmup_epochs=-1"),
    (dict(overpowering_accuracy=0.5), "overpowering_accuracy=0.5"),
    (dict(overpowering_accuracy=1.5), "overpowering_accuracy=1.5"),
    (dict(max_duplicates=0), "max_duplicates=0"),
    (dict(min_diversity=1.0), "min_diversity=1.0"),
    (dict(duplicate_distance=0), "duplicate_distance=0"),
    (dict(value_range=(1, -1)), r"value_range=\(1, -1\)"),
    (dict(real_images=np.zeros((1, 8, 8, 1))), "real_images="),
    (dict(real_images=np.zeros((4, 8, 8, 1), np.int32)), "real_images="),
    (dict(real_labels=[0, 1]), "real_labels="),
    (dict(real_images=np.zeros((4, 8, 8, 1)), real_labels=[0, 1]), "real_labels="),
])
def test_invalid_arguments_are_refused(kwargs, message):
    with pytest.raises(UserError, match=rf"Invalid value for argument \w+\. Received: "
                                        rf"{message}"):
        TrainingHealth(**kwargs)


def test_real_images_of_another_size_are_refused_when_measured():
    health = TrainingHealth(generator=dense_generator(), real_images=np.zeros((4, 28, 28, 1)),
                            num_samples=8)
    with pytest.raises(UserError, match=r"images of shape \(8, 8, 1\) but real_images have "
                                        r"shape \(28, 28, 1\)"):
        health.measure()


def test_uint8_real_images_are_mapped_to_the_value_range():
    black_and_white = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(8, 1).repeat(8, 2)
    health = TrainingHealth(generator=dense_generator(), real_images=black_and_white,
                            num_samples=8)
    # -1 everywhere against 1 everywhere: an RMS distance of 2 in (-1, 1).
    (group,) = health.measure()["groups"]
    assert group["reference"] == pytest.approx(2.0)


def test_its_state_resumes_the_run_where_a_fresh_monitor_would_start_over(messages):
    """A monitor continued from `get_state` (as `ResumableCheckpoint` does after a resume)
    logs and warns at the same epochs as the uninterrupted one; a fresh one does not."""
    generator = dense_generator()
    dense = generator.layers[0]
    kernel = np.asarray(dense.kernel).copy()
    scales = [1, 1, 0.6, 0.01, 0.01, 0.01, 1, 1, 1]  # spread peaks, then collapses

    def run(health, epochs_to_run, start=0):
        health.on_train_begin()
        seen = []
        for epoch in range(start, start + epochs_to_run):
            dense.kernel.assign(kernel * scales[epoch])
            health.on_epoch_begin(epoch)
            logs = {"real_accuracy": 0.99, "fake_accuracy": 0.99}
            health.on_epoch_end(epoch, logs)
            seen.append(logs)
        return seen

    options = dict(generator=generator, num_samples=32, warmup_epochs=0, patience=3)
    whole = TrainingHealth(**options)
    uninterrupted = run(whole, 9)
    first = TrainingHealth(**options)
    before = run(first, 3)
    state = json.loads(json.dumps(first.get_state()))  # what a checkpoint holds
    resumed = TrainingHealth(**options)
    resumed.set_state(state)
    assert before + run(resumed, 6, start=3) == uninterrupted
    assert resumed.events == whole.events and len(whole.events) >= 2
    fresh = run(TrainingHealth(**options), 6, start=3)
    assert fresh != uninterrupted[3:]  # its best spread and windows start over
    # A fit from an earlier epoch than it has seen is a new run: the judgement starts over.
    again = run(whole, 9)
    assert again == uninterrupted
