"""The callbacks in a plain Keras project (no gan_tf.GAN) and with a GAN."""

import json
import os

import keras
import tensorflow as tf
import numpy as np
import pytest

from conftest import tensorboard_events
from gan_tf import callbacks, images
from gan_tf.errors import UserError


def autoencoder():
    """A plain Keras model whose decoder maps 4-d codes to 8x8 images in [-1, 1]."""
    decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="tanh"),
                                keras.layers.Reshape((8, 8, 1))], name="decoder")
    inputs = keras.Input((8, 8, 1))
    codes = keras.layers.Dense(4)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, decoder(codes))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model, decoder


def data():
    x = np.tanh(np.random.default_rng(0).normal(size=(32, 8, 8, 1))).astype("float32")
    return x, x


def test_sample_grid_in_another_keras_project(tmp_path):
    model, decoder = autoencoder()
    grid = callbacks.SampleGrid(tmp_path / "s", generator=decoder, num_rows=2, num_cols=3,
                                every_n_epochs=2, gif_path=str(tmp_path / "p.gif"))
    model.fit(*data(), epochs=5, batch_size=8, verbose=0, callbacks=[grid])
    names = sorted(os.listdir(tmp_path / "s"))
    assert names == ["epoch_0002.png", "epoch_0004.png", "final.png", "latents.npy"]
    pixels = images.read_png(tmp_path / "s" / "final.png")
    assert pixels.shape == (2 * 10 + 2, 3 * 10 + 2, 1)
    # The grid is the decoder's output on the saved latents.
    expected = images.make_grid(images.to_uint8(decoder(np.load(grid.latents_path))), 2)
    np.testing.assert_array_equal(pixels, expected)
    # Training changed the decoder, so the grids of epochs 2 and 4 differ.
    assert not np.array_equal(images.read_png(tmp_path / "s" / "epoch_0002.png"), pixels)
    from PIL import Image

    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.n_frames == 2


def test_sample_grid_keeps_its_latents_across_runs(tmp_path):
    model, decoder = autoencoder()
    first = callbacks.SampleGrid(tmp_path, generator=decoder, num_rows=2, num_cols=2, seed=1)
    latents = first.fixed_latents().copy()
    second = callbacks.SampleGrid(tmp_path, generator=decoder, num_rows=2, num_cols=2, seed=99)
    np.testing.assert_array_equal(second.fixed_latents(), latents)
    wrong = callbacks.SampleGrid(tmp_path, generator=decoder, num_rows=3, num_cols=3)
    with pytest.raises(UserError, match="latents of shape"):
        wrong.fixed_latents()


def test_sample_grid_and_health_latents_follow_the_generators_distribution(tmp_path):
    from gan_tf import networks

    for distribution in ("normal", "uniform"):
        generator = networks.make_generator("mlp", 8, (8, 8, 1),
                                            latent_distribution=distribution)
        grid = callbacks.SampleGrid(tmp_path / distribution, generator=generator, num_rows=8,
                                    num_cols=8, seed=1)
        health = callbacks.TrainingHealth(generator=generator, num_samples=64, seed=1)
        health.samples()  # draws its fixed latents
        rng = np.random.default_rng(1)
        expected = (rng.uniform(-1, 1, (64, 8)) if distribution == "uniform"
                    else rng.standard_normal((64, 8))).astype(np.float32)
        np.testing.assert_array_equal(grid.fixed_latents(), expected)
        np.testing.assert_array_equal(np.load(grid.latents_path), expected)
        np.testing.assert_array_equal(health._latents, expected)


def test_sample_grid_writes_tensorboard_images(tmp_path):
    model, decoder = autoencoder()
    grid = callbacks.SampleGrid(tmp_path / "s", generator=decoder, num_rows=1, num_cols=2,
                                tensorboard_dir=str(tmp_path / "tb"))
    model.fit(*data(), epochs=2, batch_size=16, verbose=0, callbacks=[grid])
    steps = [step for tag, step in tensorboard_events(tmp_path / "tb") if tag == "samples"]
    assert steps == [1, 2]  # the final grid is epoch 2's: copied, not logged twice
    other = callbacks.SampleGrid(tmp_path / "s2", generator=decoder, num_rows=1, num_cols=2,
                                 every_n_epochs=2, tensorboard_dir=str(tmp_path / "tb2"))
    model.fit(*data(), epochs=3, batch_size=16, verbose=0, callbacks=[other])
    steps = [step for tag, step in tensorboard_events(tmp_path / "tb2") if tag == "samples"]
    assert steps == [2, 3]  # epoch 2, then the final grid after epoch 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_rows=0), "Received: num_rows=0"),
    (dict(every_n_epochs=-1), "every_n_epochs=-1"),
    (dict(value_range=(1, -1)), "value_range"),
])
def test_sample_grid_validates_arguments(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        callbacks.SampleGrid(tmp_path, **kwargs)


def test_checkpoint_resumes_a_plain_keras_model_with_optimizer_state(tmp_path):
    model, _ = autoencoder()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, max_to_keep=2, verbose=0)
    assert checkpoint.restore(model) == 0
    model.fit(*data(), epochs=3, batch_size=8, verbose=0, callbacks=[checkpoint])
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".index")) == [
        "ckpt-2.index", "ckpt-3.index"]
    os.makedirs(tmp_path / "ckpt-4_temp")  # what a kill during a write leaves

    restored_model, _ = autoencoder()
    restored_model.optimizer.build(restored_model.trainable_variables)
    resumed = callbacks.ResumableCheckpoint(tmp_path, verbose=0)
    assert resumed.restore(restored_model) == 3
    assert not os.path.exists(tmp_path / "ckpt-4_temp")
    for a, b in zip(restored_model.weights, model.weights):
        np.testing.assert_array_equal(a, b)
    assert int(restored_model.optimizer.iterations) == int(model.optimizer.iterations) == 12
    for a, b in zip(restored_model.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_every_n_epochs_and_at_the_end(tmp_path):
    model, _ = autoencoder()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, every_n_epochs=2, verbose=0)
    checkpoint.restore(model)
    model.fit(*data(), epochs=3, batch_size=8, verbose=0, callbacks=[checkpoint])
    # Numbered in the order saved: after epoch 2, then at the end (epoch 3).
    saved = {os.path.basename(p): int(tf.train.load_variable(p, "epoch/.ATTRIBUTES/"
                                                             "VARIABLE_VALUE"))
             for p in checkpoint.checkpoint_paths()}
    assert saved == {"ckpt-2": 3, "ckpt-1": 2}


def test_metrics_log_lines_plot_and_repair_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    model, _ = autoencoder()
    log = callbacks.MetricsLog(path, plot_path=str(tmp_path / "losses.png"))
    model.fit(*data(), epochs=3, batch_size=8, verbose=0, callbacks=[log])
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and r["time"] >= 0 for r in records)
    assert (tmp_path / "losses.png").stat().st_size > 1000

    # A run killed after epoch 3's line but restored from epoch 2, with a torn last line.
    with open(path, "a") as stream:
        stream.write('{"epoch": 4, "lo')
    resumed = callbacks.MetricsLog(path)
    model.fit(*data(), epochs=4, initial_epoch=2, batch_size=8, verbose=0, callbacks=[resumed])
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]


def test_sample_grid_with_a_generator_that_has_no_input_layer(tmp_path):
    decoder = keras.Sequential([keras.layers.Dense(64, activation="tanh"),
                                keras.layers.Reshape((8, 8, 1))])
    with pytest.raises(UserError, match="Pass latent_dim=N"):
        callbacks.SampleGrid(tmp_path / "a", generator=decoder).fixed_latents()
    grid = callbacks.SampleGrid(tmp_path / "b", generator=decoder, latent_dim=5, num_rows=2,
                                num_cols=2)
    assert grid.grid().shape == (22, 22, 1) and grid.fixed_latents().shape == (4, 5)


def test_stop_on_non_finite_names_the_metric_and_nothing_is_saved(tmp_path):
    model, _ = autoencoder()
    x, _ = data()
    y = x.copy()
    y[5] = np.nan  # the loss of the batch holding it is NaN
    checkpoint = callbacks.ResumableCheckpoint(tmp_path / "ckpt", verbose=0)
    checkpoint.restore(model)
    log = callbacks.MetricsLog(tmp_path / "m.jsonl")
    with pytest.raises(callbacks.TrainingDiverged, match=r"step 1 of epoch 1: loss = nan"):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[callbacks.StopOnNonFinite(), log, checkpoint])
    assert not os.path.exists(tmp_path / "m.jsonl")
    assert checkpoint.checkpoint_paths() == []


def test_checkpoint_skips_non_finite_epochs_and_metrics_log_writes_null(tmp_path, capsys):
    model, _ = autoencoder()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, verbose=0)
    checkpoint.restore(model)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    checkpoint.on_epoch_end(1, {"loss": float("nan")})
    checkpoint.on_train_end()
    assert [os.path.basename(p) for p in checkpoint.checkpoint_paths()] == ["ckpt-1"]
    assert "not checkpointing epoch 2: loss = nan" in capsys.readouterr().err
    log = callbacks.MetricsLog(tmp_path / "m.jsonl")
    log.on_epoch_begin(0)
    log.on_epoch_end(0, {"loss": float("inf"), "other": 2.0})
    assert json.loads((tmp_path / "m.jsonl").read_text())["loss"] is None


def test_sample_grid_of_a_conditional_generator_has_one_row_per_class(tmp_path):
    import tensorflow as tf

    from gan_tf import networks

    generator = networks.make_generator("mlp", 6, (8, 8, 1), num_classes=3)
    generator.get_layer("label_embedding").embeddings.assign(
        np.random.default_rng(0).normal(size=(3, 50)) * 3)  # labels change the images visibly
    grid = callbacks.SampleGrid(tmp_path, generator=generator, num_rows=3, num_cols=4)
    assert grid.fixed_labels().tolist() == [0] * 4 + [1] * 4 + [2] * 4
    latents = grid.fixed_latents()
    # Row r has class r. One generator call of all 12, as the grid makes: pixels are compared
    # exactly only at the same batch size (conftest.ACROSS_BATCH_SIZES_ATOL).
    row_labels = tf.constant(np.repeat(np.arange(3, dtype=np.int32), 4))
    expected = images.make_grid(images.to_uint8(np.asarray(
        generator([tf.constant(latents), row_labels], training=False))), 3)
    np.testing.assert_array_equal(grid.grid(), expected)
    same_class = generator([tf.constant(latents), tf.zeros([12], tf.int32)], training=False)
    assert not np.array_equal(images.make_grid(images.to_uint8(np.asarray(same_class)), 3),
                              expected)
    explicit = callbacks.SampleGrid(tmp_path / "b", generator=generator, num_rows=1,
                                    num_cols=4, labels=[2, 2, 1, 0])
    assert explicit.fixed_labels().tolist() == [2, 2, 1, 0]
    with pytest.raises(UserError, match="labels"):
        callbacks.SampleGrid(tmp_path / "c", generator=generator, num_rows=1, num_cols=2,
                             labels=[5, 0]).grid()


def test_sample_scoring_generates_in_batches_sized_to_the_images():
    from gan_tf.callbacks.sample_quality import generation_batch

    # 500 for the digits (as before), fewer for larger images, never below 32.
    assert generation_batch((None, 28, 28, 1)) == 500
    assert generation_batch((None, 32, 32, 3)) == 127
    assert generation_batch((None, 48, 64, 3)) == 42
    assert generation_batch((None, 256, 256, 3)) == 32


class _Counter(keras.callbacks.Callback):
    """A stateful callback: counts epochs; its count must survive a resume."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def on_epoch_end(self, epoch, logs=None):
        self.count += 1

    def get_state(self):
        return {"count": self.count, "ratio": np.float32(0.1) * self.count}

    def set_state(self, state):
        self.count = state["count"]


def test_the_checkpoint_carries_the_state_of_the_callbacks_given(tmp_path):
    model, _ = autoencoder()
    counter = _Counter()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, callbacks=[counter], verbose=0)
    model.fit(*data(), epochs=3, batch_size=8, verbose=0, callbacks=[counter, checkpoint])
    late, twin = _Counter(), _Counter()
    fresh = callbacks.ResumableCheckpoint(tmp_path, callbacks=[late], verbose=0)
    assert fresh.restore(autoencoder()[0]) == 3 and late.count == 3
    fresh.keep_state_of(twin)  # a second callback of the class: its own key, nothing saved
    assert twin.count == 0
    with pytest.raises(ValueError, match="Invalid value for argument callbacks"):
        fresh.keep_state_of(callbacks.MetricsLog(tmp_path / "m.jsonl"))


def test_checkpoints_saved_before_callback_states_existed_still_restore(tmp_path):
    variable = tf.Variable(5.0)
    epoch, step = tf.Variable(2, dtype=tf.int64), tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(epoch=epoch, step=step,
                                                             v=variable), str(tmp_path), 3,
                                         checkpoint_name="ckpt")
    manager.save(checkpoint_number=1)  # the layout of gan_tf's checkpoints until now
    restored, counter = tf.Variable(0.0), _Counter()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, items={"v": restored},
                                               callbacks=[counter], verbose=0)
    assert checkpoint.restore() == 2 and float(restored.numpy()) == 5.0 and counter.count == 0


def test_checkpoints_saved_before_seed_generators_were_saved_still_restore(tmp_path):
    """A model with a Dropout layer (a SeedGenerator): its checkpoints from before the seed
    generators' state was saved restore, weights included."""
    def model_with_dropout():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                                  keras.layers.Dense(2)])
        model.compile(keras.optimizers.Adam(), "mse")
        return model

    old = model_with_dropout()
    epoch, step = tf.Variable(1, dtype=tf.int64), tf.Variable(0, dtype=tf.int64)
    tf.train.CheckpointManager(tf.train.Checkpoint(epoch=epoch, step=step, model=old,
                                                   optimizer=old.optimizer), str(tmp_path),
                               3, checkpoint_name="ckpt").save(checkpoint_number=1)
    new = model_with_dropout()
    checkpoint = callbacks.ResumableCheckpoint(tmp_path, verbose=0)
    assert "seed_generators" in checkpoint._items(new)
    assert checkpoint.restore(new) == 1
    for a, b in zip(old.weights, new.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    checkpoint.save(2)  # the new layout from now on
    again = model_with_dropout()
    assert callbacks.ResumableCheckpoint(tmp_path, verbose=0).restore(again) == 2


def test_a_failed_checkpoint_write_names_the_system_reason_without_tensorflow_wrapping():
    from gan_tf.callbacks.checkpoint_folders import operating_system_reason

    error = tf.errors.ResourceExhaustedError(
        None, None, "{{function_node __wrapped__SaveV2_dtypes_6_device_/job:localhost/replica:0"
        "/task:0/device:CPU:0}} /run/checkpoints/ckpt-2_temp/part-00000-of-00001.data-00000-of-"
        "00001.tempstate1; No space left on device [Op:SaveV2]")
    assert operating_system_reason(error) == (
        "/run/checkpoints/ckpt-2_temp/part-00000-of-00001.data-00000-of-00001.tempstate1; "
        "No space left on device")
    assert operating_system_reason(OSError(28, "No space left on device")) == (
        "No space left on device")
