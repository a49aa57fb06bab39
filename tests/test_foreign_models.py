"""gan_tf's callbacks on GANs written the way other Keras projects write them.

The models (tests/foreign_models.py) keep their own networks, optimizers, `train_step` and
`keras.random.SeedGenerator`. Every callback is attached; a run interrupted inside an epoch
and resumed by fresh objects (as a new process makes them) must write the same weights,
grids and metrics.jsonl as an uninterrupted one. Runs use relative folders from a working
directory of their own.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import foreign_models
from conftest import REPO, collect_messages, run_python
from foreign_models import MODELS, Interrupted, InterruptAt, Projection, train
from gan_tf import callbacks
from gan_tf.errors import UserError


def metrics_without_time(folder):
    with open(os.path.join(folder, "metrics.jsonl"), encoding="utf-8") as stream:
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in stream]


def assert_same_weights(one, other):
    for a, b in zip(one.weights, other.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


@pytest.mark.slow  # trains for more than a few seconds
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_callback_resumes_a_foreign_gan_exactly(name, tmp_path):
    """Interrupted after batch 2 of epoch 2 (of 3 batches), then resumed by fresh objects:
    weights, optimizer slots, the seed generator, grids, best scores and metrics.jsonl equal
    the uninterrupted run's."""
    reference, _ = train(name, tmp_path / "reference", 4)
    train(name, tmp_path / "resumed", 4, stop_at=(2, 2))
    with collect_messages() as messages:
        resumed, checkpoint = train(name, tmp_path / "resumed", 4)
    assert any("2 batches into epoch 2" in message for message in messages), messages
    assert_same_weights(reference, resumed)
    assert metrics_without_time(tmp_path / "reference") == metrics_without_time(
        tmp_path / "resumed")
    records = metrics_without_time(tmp_path / "resumed")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert {"d_loss", "g_loss", "fd", "kid", "sample_diversity"} <= set(records[0]) or (
        name == "conditional")
    files = sorted(os.listdir(tmp_path / "reference" / "samples"))
    assert files == sorted(os.listdir(tmp_path / "resumed" / "samples"))
    for file in [f"samples/{file}" for file in files] + ["best/best.json"]:
        with open(tmp_path / "reference" / file, "rb") as a, open(
                tmp_path / "resumed" / file, "rb") as b:
            assert a.read() == b.read(), file
    # The best checkpoints hold the same values (their count of saves aside).
    best = [tf.train.load_checkpoint(str(tmp_path / run / "best"))
            for run in ("reference", "resumed")]
    names = [n for n in best[0].get_variable_to_shape_map() if not n.startswith("save_counter")
             and "_CHECKPOINTABLE_OBJECT_GRAPH" not in n]
    assert names and sorted(names) == sorted(
        n for n in best[1].get_variable_to_shape_map() if not n.startswith("save_counter")
        and "_CHECKPOINTABLE_OBJECT_GRAPH" not in n)
    for n in names:
        np.testing.assert_array_equal(best[0].get_tensor(n), best[1].get_tensor(n), err_msg=n)
    # The seed generator's state is in the checkpoint (it moved during training).
    assert checkpoint._items(resumed).get("seed_generators")
    assert int(np.asarray(resumed.seed_generator.state)[1]) != 0 or np.any(
        np.asarray(resumed.seed_generator.state) != np.asarray([1337, 0]))


@pytest.mark.slow  # trains for more than a few seconds
def test_without_the_callbacks_state_a_resumed_log_differs(tmp_path):
    """The comparison above can fail: resumed without the health monitor's and the scorer's
    state (the old behaviour), the log differs from the uninterrupted run's."""
    train("dcgan", tmp_path / "reference", 4)
    train("dcgan", tmp_path / "resumed", 4, stop_at=(2, 2), keep_state=False)
    train("dcgan", tmp_path / "resumed", 4, keep_state=False)
    reference = metrics_without_time(tmp_path / "reference")
    resumed = metrics_without_time(tmp_path / "resumed")
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4]
    assert reference[0] == resumed[0]
    assert reference != resumed


@pytest.mark.slow
def test_a_relative_checkpoint_folder_is_read_back_by_a_fresh_callback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = foreign_models.make_wgan_gp()
    images, _ = foreign_models.labelled_images(16)
    first = callbacks.ResumableCheckpoint("ckpts", verbose=0)
    model.fit(images, epochs=1, batch_size=8, verbose=0,
              initial_epoch=first.restore(model), callbacks=[first])
    second = callbacks.ResumableCheckpoint("ckpts", verbose=0)
    assert second.restore(foreign_models.make_wgan_gp()) == 1
    third = callbacks.ResumableCheckpoint("ckpts", verbose=0)
    model.fit(images, epochs=2, batch_size=8, verbose=0, initial_epoch=third.restore(model),
              callbacks=[third])
    assert sorted(os.listdir("ckpts"))[:1] == ["checkpoint"]
    # A list naming a file outside the folder is still refused.
    with open(os.path.join("ckpts", "checkpoint"), "w") as stream:
        stream.write('model_checkpoint_path: "../elsewhere/ckpt-1"\n')
    with pytest.raises(UserError, match="names a checkpoint outside"):
        callbacks.ResumableCheckpoint("ckpts", verbose=0).restore(model)


def test_the_optimizers_and_seed_generators_a_checkpoint_holds():
    model = foreign_models.make_dcgan()
    items = callbacks.ResumableCheckpoint("unused", verbose=0)._items(model)
    assert set(items) == {"model", "optimizer", "d_optimizer", "g_optimizer",
                          "seed_generators"}
    states = items["seed_generators"]
    # The model's own generator and the discriminator's Dropout layer's.
    assert len(states) == 2 and states[0] is model.seed_generator.state


@pytest.mark.slow  # trains for more than a few seconds
def test_a_plain_fit_over_the_whole_interrupted_epoch_is_warned_about(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images, _ = foreign_models.labelled_images(24)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(8)
    checkpoint = callbacks.ResumableCheckpoint("ckpts", every_n_steps=1, verbose=0)
    model = foreign_models.make_wgan_gp()
    with pytest.raises(Interrupted):
        model.fit(dataset, epochs=2, verbose=0, callbacks=[checkpoint, InterruptAt(2, 1)])
    again = callbacks.ResumableCheckpoint("ckpts", every_n_steps=1, verbose=0)
    model = foreign_models.make_wgan_gp()
    start = again.restore(model)
    assert (start, again.resume_step) == (1, 1)
    with collect_messages() as messages:
        model.fit(dataset, epochs=2, initial_epoch=start, verbose=0, callbacks=[again])
    warnings = [m for m in messages if "trained twice" in m]
    assert len(warnings) == 1 and "checkpoint.fit(model, dataset, epochs)" in warnings[0]
    assert again.position == (1, 3)  # the epoch counted from its first batch again
    # skip_trained gives the remaining batches, and no warning.
    third = callbacks.ResumableCheckpoint("ckpts", every_n_steps=1, verbose=0)
    third.restore(foreign_models.make_wgan_gp())
    assert third.resume_step == 0  # the last save was at the end of epoch 2


def test_skip_trained_skips_the_trained_batches(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = tf.data.Dataset.range(6).batch(2)
    checkpoint = callbacks.ResumableCheckpoint("ckpts", items={"v": tf.Variable(1.0)},
                                               verbose=0)
    checkpoint.save(1, 2)
    fresh = callbacks.ResumableCheckpoint("ckpts", items={"v": tf.Variable(1.0)}, verbose=0)
    assert fresh.restore() == 1 and fresh.resume_step == 2
    assert [list(b.numpy()) for b in fresh.skip_trained(dataset)] == [[4, 5]]
    with pytest.raises(ValueError, match="Invalid value for argument dataset"):
        fresh.skip_trained(np.zeros((4, 2)))


def test_sample_quality_calls_a_foreign_generator_in_batches_and_maps_its_range():
    model = foreign_models.make_dcgan()
    judge = Projection((64, 64, 3))
    real = foreign_models.colour_images(20)
    quality = callbacks.SampleQuality(judge, {"features": judge.features(real * 2 - 1)},
                                      num_samples=50, batch_size=16, value_range=(0, 1))
    quality.set_model(model)
    judge.calls.clear()
    scores = quality.evaluate()
    assert [size for size, _, _ in judge.calls] == [16, 16, 16, 2]
    assert min(low for _, low, _ in judge.calls) >= -1.0 and max(
        high for _, _, high in judge.calls) <= 1.0
    # The same samples scored as [-1, 1] images, through sample_fn: the same features.
    tanh_quality = callbacks.SampleQuality(
        judge, quality.real, num_samples=50, batch_size=50, latent_dim=8,
        sample_fn=lambda latents, labels: 2.0 * model.generator(latents) - 1.0)
    tanh_quality.set_model(model)
    np.testing.assert_allclose(tanh_quality.evaluate()["fd"], scores["fd"], rtol=1e-4)
    # Without value_range the [0, 1] images are scored as if they were [-1, 1] ones: worse.
    wrong = callbacks.SampleQuality(judge, quality.real, num_samples=50, batch_size=16)
    wrong.set_model(model)
    assert wrong.evaluate()["fd"] != pytest.approx(scores["fd"], rel=1e-3)


def test_sample_quality_gives_a_conditional_foreign_generator_its_labels():
    model = foreign_models.make_conditional_gan()
    seen = []

    def sample(latents, labels):
        seen.append((tuple(latents.shape), np.asarray(labels)))
        return foreign_models.conditional_sample_fn(model)(latents, labels)

    judge = Projection((8, 8, 1))
    images, _ = foreign_models.labelled_images(20)
    quality = callbacks.SampleQuality(judge, {"features": judge.features(images)},
                                      num_samples=12, batch_size=8, latent_dim=8,
                                      num_classes=4, sample_fn=sample)
    quality.set_model(model)
    quality.evaluate()
    assert [shape for shape, _ in seen] == [(8, 8), (4, 8)]
    np.testing.assert_array_equal(np.concatenate([labels for _, labels in seen]),
                                  np.arange(12) % 4)


def test_grid_and_health_give_a_conditional_foreign_generator_its_labels(tmp_path):
    """Labels inside the latent vector: each row of the grid and each class of the health
    monitor's samples is drawn with its one-hot label, never with noise in the label slots."""
    calls = []

    def sample(latents, labels):  # an image whose every pixel is the label it was given
        calls.append((int(latents.shape[1]), np.asarray(labels)))
        return tf.tile(tf.cast(tf.reshape(labels, (-1, 1, 1, 1)), tf.float32) / 3.0,
                       (1, 8, 8, 1))

    grid = callbacks.SampleGrid(str(tmp_path), num_rows=4, num_cols=3, value_range=(0, 1),
                                latent_dim=8, num_classes=4, sample_fn=sample)
    grid.set_model(keras.Sequential([keras.Input((12,)), keras.layers.Dense(1)]))
    pixels = grid.grid()
    assert calls[0][0] == 8  # the latents alone, without label slots
    # The first cell of row r (make_grid pads 2 pixels around 8x8 cells): class r.
    cells = [pixels[2 + 10 * r:10 + 10 * r, 2:10] for r in range(4)]
    assert [int(round(float(np.mean(cell)))) for cell in cells] == [0, 85, 170, 255]
    health = callbacks.TrainingHealth(num_samples=8, latent_dim=8, num_classes=4,
                                      sample_fn=sample, value_range=(0, 1))
    health.set_model(grid.model)
    samples = health.samples()
    np.testing.assert_array_equal(calls[-1][1], np.arange(8) % 4)
    np.testing.assert_allclose(samples[:, 0, 0, 0], (np.arange(8) % 4) / 3.0)
    with pytest.raises(ValueError, match="Invalid value for argument latent_dim"):
        callbacks.SampleGrid(str(tmp_path), sample_fn=sample)
    with pytest.raises(ValueError, match="Invalid value for argument num_classes"):
        callbacks.TrainingHealth(latent_dim=8, num_classes=0, sample_fn=sample)


@pytest.mark.parametrize("arguments, match", [
    ({"sample_fn": lambda z, y: z}, "latent_dim"),
    ({"sample_fn": 3, "latent_dim": 8}, "sample_fn"),
    ({"value_range": (1, 0)}, "value_range"),
    ({"batch_size": 0}, "batch_size"),
])
def test_sample_quality_refuses_bad_options(arguments, match):
    with pytest.raises(ValueError, match=f"Invalid value for argument {match}"):
        callbacks.SampleQuality(Projection((8, 8, 1)), {"features": np.zeros((4, 12))},
                                **arguments)


def test_metrics_log_plots_whatever_keys_the_log_holds(tmp_path):
    from gan_tf.callbacks import metrics_log

    figures = []
    original = metrics_log.plots._save
    try:
        metrics_log.plots._save = lambda figure, path: figures.append(figure)
        metrics_log.plot_records([{"epoch": 1, "time": 2.0, "loss": 3.0},
                                  {"epoch": 2, "time": 2.0, "loss": 2.5}], "unused.png")
        metrics_log.plot_records([{"epoch": 1, "d_loss": 1.0, "g_loss": 2.0, "fd": 9.0,
                                   "sample_diversity": None}], "unused.png")
    finally:
        metrics_log.plots._save = original
    (vae,) = figures[0].axes
    assert [line.get_label() for line in vae.lines] == ["loss"]
    losses, others = figures[1].axes
    assert [line.get_label() for line in losses.lines] == ["d_loss", "g_loss"]
    assert [line.get_label() for line in others.lines] == ["fd"]
    log = callbacks.MetricsLog(tmp_path / "m.jsonl", plot_path=str(tmp_path / "m.png"))
    log.on_epoch_begin(0)
    log.on_epoch_end(0, {"loss": 1.0})
    log.on_train_end()
    assert (tmp_path / "m.png").stat().st_size > 1000


@pytest.mark.slow
def test_killed_foreign_gan_resumes_exactly_from_a_relative_folder(tmp_path):
    """kill -9 (a real process) inside epoch 2 of keras-io's DCGAN with every callback, run
    from a relative folder; the rerun finishes like an uninterrupted process."""
    import signal
    import subprocess
    import sys

    from conftest import marker_directory, wait_for_marker

    driver = os.path.join(REPO, "tests", "foreign_driver.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "tests")]),
               TF_CPP_MIN_LOG_LEVEL="2")
    for folder in ("reference", "killed"):
        (tmp_path / folder).mkdir()
    reference = run_python([driver, "run", "4"], cwd=tmp_path / "reference", env=env)
    assert reference.returncode == 0, reference.stderr[-3000:]
    markers = marker_directory(tmp_path / "markers")
    process = subprocess.Popen([sys.executable, driver, "run", "4"], cwd=tmp_path / "killed",
                               env=dict(env, FOREIGN_PAUSE_AT="2:2", GAN_TF_MARKER_DIR=markers),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_marker(os.path.join(markers, "paused"), [process], 120)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    rerun = run_python([driver, "run", "4"], cwd=tmp_path / "killed", env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "2 batches into epoch 2" in rerun.stdout + rerun.stderr
    assert metrics_without_time(tmp_path / "reference") == metrics_without_time(
        tmp_path / "killed")
    for file in ("weights.npz", "samples/final.png"):
        with open(tmp_path / "reference" / file, "rb") as a, open(
                tmp_path / "killed" / file, "rb") as b:
            assert a.read() == b.read(), file
