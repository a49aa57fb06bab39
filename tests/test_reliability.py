"""A run survives kill -9, SIGTERM, torn files, full disks and hostile paths, and loses nothing.

The trainer runs in subprocesses (`python -m gan_tf.train`, through `tests/train_driver.py`).
Tests never sleep to wait for it: they wait for the marker files the driver writes
(`step-E-S` after batch S of epoch E, `saving-E` before epoch E's checkpoint is written,
`paused` when it holds at GAN_TF_PAUSE_AT=E:S).
"""

import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from conftest import (REPO, TRAIN_DRIVER, assert_same_checkpoints, checkpoint_values,
                      marker_directory, wait_for_marker)
from gan_tf import train_lib
from gan_tf.callbacks import TrainingDiverged, TrainingPreempted
from gan_tf.errors import UserError
from gan_tf.files import npy_bytes

EXIT_PREEMPTED = TrainingPreempted.EXIT_CODE

# 256 digits in batches of 64: 4 steps per epoch; 3 epochs take about a second of training.
FLAGS = ["--architecture=mlp", "--max_examples=256", "--batch_size=64", "--epochs=3",
         "--eval_every_n_epochs=0", "--sample_every_n_epochs=1"]
STEPS_PER_EPOCH = 4
WAIT_SECONDS = 120


def start(run_dir, markers, extra=(), pause=None):
    """Starts `python -m gan_tf.train` (the marking driver) on `run_dir`; returns the Popen."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               GAN_TF_MARKER_DIR=marker_directory(markers))
    env.pop("GAN_TF_PAUSE_AT", None)
    if pause:
        env["GAN_TF_PAUSE_AT"] = pause
    return subprocess.Popen([sys.executable, TRAIN_DRIVER, *FLAGS, *extra,
                             f"--output_dir={run_dir}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(marker, process):
    """Waits until the trainer writes `marker` (a path); fails if it exits first."""
    wait_for_marker(marker, [process], WAIT_SECONDS)


def finish(process):
    """Waits for the trainer; returns (returncode, stdout, stderr)."""
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def kill9(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def assert_same_run(first, second):
    """Weights, both optimizers (slots, counters), running means, the callbacks' state, the
    final grid and metrics.jsonl (but its times) equal."""
    a = assert_same_checkpoints(first, second, save_counter=False)
    assert any(name.startswith("discriminator_optimizer/") for name in a)
    with open(os.path.join(first, "samples", "final.png"), "rb") as one, open(
            os.path.join(second, "samples", "final.png"), "rb") as other:
        assert one.read() == other.read()
    logs = []
    for run_dir in (first, second):
        with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as stream:
            logs.append([{k: v for k, v in json.loads(line).items() if k != "time"}
                         for line in stream])
    assert logs[0] == logs[1]


def metric_epochs(run_dir):
    """The epochs of metrics.jsonl; every line must parse."""
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as stream:
        return [json.loads(line)["epoch"] for line in stream]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run with FLAGS, trained in this process from the config the command
    parses from them: the runs of the trainer processes must match it bit for bit."""
    from gan_tf import cli
    from gan_tf.config import TrainConfig

    run_dir = tmp_path_factory.mktemp("reference") / "run"
    config = cli.parse_config(TrainConfig, ["gan_tf.train", *FLAGS, f"--output_dir={run_dir}"])
    assert train_lib.train(config, verbose=0).end_epoch == 3
    return str(run_dir)


@pytest.fixture(scope="module")
def killed_mid_epoch(tmp_path_factory):
    """A run held after batch 2 of epoch 2; a second run started on its directory meanwhile;
    the first killed with kill -9 (its .lock left behind); then the rerun to the end.

    Two tests read it: the rerun is bit-identical, and the lock refused the second run but
    not the rerun. Their processes are the same, so they are started once.

    The second run is `train_lib.train` in this process (another process than the trainer's,
    as the lock needs) on the config the command parses: what `python -m gan_tf.train` runs,
    without seconds of TensorFlow import. Its command prints the refusal and exits 1, as it
    does for every UserError (test_train_cli's bad-dataset and bad-data-file tests).
    """
    from gan_tf import cli
    from gan_tf.config import TrainConfig

    tmp_path = tmp_path_factory.mktemp("killed_mid_epoch")
    run_dir, markers = tmp_path / "run", tmp_path / "markers"
    first = start(run_dir, markers, pause="2:2")  # hold after batch 2 of epoch 2
    wait_for(markers / "paused", first)
    config = cli.parse_config(TrainConfig, ["gan_tf.train", *FLAGS, f"--output_dir={run_dir}"])
    try:
        train_lib.train(config, verbose=0)
        second = None
    except UserError as refused:
        second = str(refused)
    kill9(first)  # leaves .lock behind: the kernel dropped the flock with the process
    lock_left = os.path.exists(run_dir / ".lock")
    rerun = finish(start(run_dir, tmp_path / "markers3"))
    return types.SimpleNamespace(run_dir=run_dir, first_pid=first.pid, second=second,
                                 lock_left=lock_left, rerun=rerun)


@pytest.mark.slow
def test_kill_9_mid_epoch_then_rerun_is_bit_identical(reference, killed_mid_epoch):
    code, out, err = killed_mid_epoch.rerun
    assert code == 0, err
    assert "Restored" in out and "1 finished epochs" in out
    assert_same_run(reference, killed_mid_epoch.run_dir)
    assert metric_epochs(killed_mid_epoch.run_dir) == [1, 2, 3]


@pytest.mark.slow
def test_kill_9_between_two_in_epoch_checkpoints_resumes_from_the_last_one(reference,
                                                                            tmp_path):
    run_dir, markers = tmp_path / "run", tmp_path / "markers"
    every = ["--checkpoint_every_n_steps=2"]
    process = start(run_dir, markers, every, pause="2:3")  # saved at batch 2, not 3
    wait_for(markers / "paused", process)
    kill9(process)
    state = checkpoint_values(run_dir, save_counter=False)
    assert (int(state["epoch/.ATTRIBUTES/VARIABLE_VALUE"]),
            int(state["step/.ATTRIBUTES/VARIABLE_VALUE"])) == (1, 2)
    code, out, err = finish(start(run_dir, tmp_path / "markers2", every))
    assert code == 0, err
    assert "2 batches into epoch 2" in out
    # The same run as the uninterrupted one without in-epoch checkpoints: they change nothing.
    assert_same_run(reference, run_dir)
    assert metric_epochs(run_dir) == [1, 2, 3]


@pytest.mark.slow
def test_sigterm_saves_at_the_next_step_and_the_rerun_loses_and_repeats_nothing(reference,
                                                                                 tmp_path):
    run_dir, markers = tmp_path / "run", tmp_path / "markers"
    process = start(run_dir, markers, pause="2:2")
    wait_for(markers / "paused", process)
    process.send_signal(signal.SIGTERM)
    code, out, err = finish(process)
    assert code == EXIT_PREEMPTED, err
    assert "Stopped on SIGTERM at epoch 2, batch 3" in err and "Traceback" not in err
    state = checkpoint_values(run_dir, save_counter=False)
    assert (int(state["epoch/.ATTRIBUTES/VARIABLE_VALUE"]),
            int(state["step/.ATTRIBUTES/VARIABLE_VALUE"])) == (1, 3)
    assert int(state["generator_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == (
        STEPS_PER_EPOCH + 3)
    code, out, err = finish(start(run_dir, tmp_path / "markers2"))
    assert code == 0, err
    assert "3 batches into epoch 2" in out
    assert_same_run(reference, run_dir)
    assert metric_epochs(run_dir) == [1, 2, 3]
    # The resumed epoch logs the same means as the uninterrupted one.
    with open(os.path.join(reference, "metrics.jsonl")) as a, open(run_dir / "metrics.jsonl") as b:
        for one, other in zip(a, b):
            one, other = json.loads(one), json.loads(other)
            assert {k: v for k, v in one.items() if k != "time"} == {
                k: v for k, v in other.items() if k != "time"}


@pytest.mark.slow
def test_a_second_run_on_the_same_directory_is_refused_and_a_killed_ones_lock_is_not(
        reference, killed_mid_epoch):
    refusal = killed_mid_epoch.second  # started while the first held the lock
    assert refusal is not None, "the second run was not refused"
    assert ("is in use by another gan_tf process" in refusal
            and f'"pid": {killed_mid_epoch.first_pid}' in refusal)
    assert killed_mid_epoch.lock_left  # kill -9 left it; the rerun was not refused by it
    code, out, err = killed_mid_epoch.rerun
    assert code == 0, err
    assert_same_run(reference, killed_mid_epoch.run_dir)


@pytest.mark.slow
def test_kill_9_during_checkpoint_writes_in_a_randomized_loop(reference, tmp_path):
    """Rounds killed in a checkpoint write or a random 0-100 ms after one starts, then a rerun.

    "In a write" is synchronised on the temporary folder TensorFlow writes a checkpoint into
    (`ckpt-N_temp`), which exists only while that checkpoint is being written. Two rounds: the
    first killed inside a write, the second (a resume of the torn run) at a random point.
    """
    run_dir = tmp_path / "run"
    checkpoints = run_dir / "checkpoints"
    rng = random.Random(0)
    torn = 0
    for round_number in range(2):
        markers = tmp_path / f"markers{round_number}"
        done = 0
        if os.path.exists(checkpoints / "checkpoint"):
            state = checkpoint_values(run_dir, save_counter=False)
            done = int(state["epoch/.ATTRIBUTES/VARIABLE_VALUE"])
        if done == 3:
            break
        process = start(run_dir, markers)
        wait_for(markers / f"saving-{rng.randint(done + 1, 3)}", process)
        if round_number % 2 == 0:
            while process.poll() is None and not any(
                    "_temp" in name for name in os.listdir(checkpoints)):
                pass
        else:
            time.sleep(rng.uniform(0, 0.1))  # a random point, not a synchronisation
        kill9(process)
        torn += any("_temp" in name for name in os.listdir(checkpoints))
        # Whatever the kill hit, the log is whole, in order, with no repeated epoch.
        epochs = metric_epochs(run_dir)
        assert epochs == sorted(set(epochs))
    assert torn >= 1, "no kill landed inside a checkpoint write"
    code, out, err = finish(start(run_dir, tmp_path / "last"))
    assert code == 0, err
    assert not any("_temp" in name for name in os.listdir(checkpoints))  # cleaned up
    assert_same_run(reference, run_dir)
    assert metric_epochs(run_dir) == [1, 2, 3]
    print(f"{torn} kills left a half-written checkpoint")


# --- In-process tests: torn files, NaN gradients, full disks, paths ---------------------------

QUIET = dict(verbose=0)


@pytest.mark.parametrize("damage", ["zero_byte_index", "garbage_index", "garbage_state_file"])
@pytest.mark.slow
def test_torn_or_garbage_checkpoint_files_fall_back_with_one_warning(
        damage, trained_tiny_config, make_tiny_config, capfd):
    config = trained_tiny_config(epochs=2)
    folder = os.path.join(config.output_dir, "checkpoints")
    if damage == "zero_byte_index":
        open(os.path.join(folder, "ckpt-2.index"), "wb").close()
    elif damage == "garbage_index":
        with open(os.path.join(folder, "ckpt-2.index"), "wb") as stream:
            stream.write(os.urandom(300))
    else:
        with open(os.path.join(folder, "checkpoint"), "w") as stream:
            stream.write("model_checkpoint_path: {{{ not a proto")
    result = train_lib.train(make_tiny_config(epochs=3), **QUIET)
    err = capfd.readouterr().err
    if damage == "garbage_state_file":
        assert result.start_epoch == 2  # the checkpoints are found by their own files
        assert err.count("Warning:") == 1 and "cannot be read" in err
    else:
        assert result.start_epoch == 1
        assert err.count("Warning:") == 1 and "ckpt-2 cannot be restored" in err


@pytest.mark.slow
def test_a_nan_gradient_with_a_finite_loss_stops_within_the_step(trained_tiny_config,
                                                                 make_tiny_config, monkeypatch):
    from gan_tf import losses

    config = trained_tiny_config(epochs=1)
    before = checkpoint_values(config.output_dir, save_counter=False)

    def nan_gradient_loss(fake_logits):
        # + sqrt(0): the value is finite, its gradient is inf * 0 = NaN.
        zero = tf.reduce_sum(tf.square(fake_logits - tf.stop_gradient(fake_logits)))
        return losses.non_saturating_generator_loss(fake_logits) + tf.sqrt(zero)

    monkeypatch.setitem(losses._LOSSES, "non_saturating", (
        nan_gradient_loss, losses.non_saturating_discriminator_loss))
    with pytest.raises(TrainingDiverged, match=r"step 1 of epoch 2: g_grad_norm = nan"):
        train_lib.train(make_tiny_config(epochs=3), **QUIET)
    after = checkpoint_values(config.output_dir, save_counter=False)
    assert sorted(after) == sorted(before)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


@pytest.mark.slow
def test_a_failing_grid_write_stops_loudly_and_keeps_the_checkpoint(trained_tiny_config,
                                                                   make_tiny_config, monkeypatch):
    import errno

    from gan_tf import images

    config = trained_tiny_config(epochs=1)

    def no_space(pixels, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(images, "save_png", no_space)
    with pytest.raises(UserError, match=r"Could not write .*epoch_0002.png: No space left on "
                                        r"device\. Training stopped; the last checkpoint, "
                                        r"ckpt-1, is intact"):
        train_lib.train(make_tiny_config(epochs=2), **QUIET)
    monkeypatch.undo()
    assert train_lib.load_run(config.output_dir)[2] == 1
    assert train_lib.train(make_tiny_config(epochs=2), **QUIET).end_epoch == 2


@pytest.mark.slow
def test_a_checkpoint_write_that_fails_in_the_kernel_stops_loudly(trained_tiny_config,
                                                                  tmp_path):
    """A real write error from the kernel (the file-size limit: EFBIG), not a mock."""
    trained_tiny_config(epochs=1)  # the finished first epoch (the session's), in tmp_path/run
    script = f"""
import resource, sys
sys.path.insert(0, {os.path.join(REPO, 'tests')!r})
from conftest import tiny_config
from gan_tf import train_lib
from gan_tf.callbacks import CheckpointWriteError
import pathlib
quiet = dict(verbose=0)
tmp = pathlib.Path({str(tmp_path)!r})
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # smaller than a checkpoint
try:
    train_lib.train(tiny_config(tmp, epochs=2), **quiet)
except CheckpointWriteError as error:
    print("REFUSED:", error)
finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
print("EPOCHS:", train_lib.load_run(str(tmp / "run"))[2])
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr
    assert "REFUSED: Could not write checkpoint ckpt-2" in result.stdout
    assert "the previous checkpoint ckpt-1 is intact" in result.stdout
    assert "EPOCHS: 1" in result.stdout
    leftovers = os.listdir(tmp_path / "run" / "checkpoints")
    assert not any("_temp" in name for name in leftovers), leftovers


def test_links_out_of_the_run_directory_are_refused(trained_tiny_config, make_tiny_config,
                                                    tmp_path):
    config = trained_tiny_config(epochs=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    samples = os.path.join(config.output_dir, "samples")
    os.rename(samples, samples + ".real")
    os.symlink(outside, samples)
    with pytest.raises(UserError, match=r"samples is a symbolic link to .*outside the run"):
        train_lib.train(make_tiny_config(epochs=2), **QUIET)
    assert os.listdir(outside) == []


def test_a_checkpoint_list_naming_files_elsewhere_is_refused(trained_tiny_config,
                                                             make_tiny_config, tmp_path):
    config = trained_tiny_config(epochs=1)
    victim = tmp_path / "precious.index"
    victim.write_bytes(b"keep me")
    with open(os.path.join(config.output_dir, "checkpoints", "checkpoint"), "w") as stream:
        stream.write(f'model_checkpoint_path: "ckpt-1"\n'
                     f'all_model_checkpoint_paths: "{tmp_path / "precious"}"\n'
                     f'all_model_checkpoint_paths: "ckpt-1"\n')
    with pytest.raises(UserError, match="names a checkpoint outside"):
        train_lib.train(make_tiny_config(epochs=5, keep_checkpoints=1), **QUIET)
    assert victim.read_bytes() == b"keep me"


def test_the_best_checkpoint_list_cannot_point_outside_either(trained_tiny_config, tmp_path):
    config = trained_tiny_config(epochs=1)
    best = os.path.join(config.output_dir, "best_checkpoint")
    os.makedirs(best)
    with open(os.path.join(best, "best.json"), "w") as stream:
        json.dump({"epoch": 1}, stream)
    with open(os.path.join(best, "checkpoint"), "w") as stream:
        stream.write(f'model_checkpoint_path: "{tmp_path / "elsewhere" / "best-1"}"\n')
    with pytest.raises(UserError, match="names a checkpoint outside"):
        train_lib.load_run(config.output_dir, checkpoint="best")


def test_a_run_directory_of_another_config_is_refused_before_the_data_loads(
        trained_tiny_config, make_tiny_config):
    trained_tiny_config(epochs=1)
    with pytest.raises(UserError, match="holds a run with another configuration"):
        # The folder does not exist: had the data been loaded first, that would be the error.
        train_lib.train(make_tiny_config(dataset="folder:/definitely/missing"), **QUIET)


# --- Issue 25: what a careless or hostile user found ------------------------------------


def _tree(folder):
    """{relative path: bytes} of every file under `folder` (the `.lock` left out)."""
    found = {}
    for parent, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(parent, name)
            if name != ".lock":
                with open(path, "rb") as stream:
                    found[os.path.relpath(path, folder)] = stream.read()
    return found


@pytest.mark.slow
def test_more_than_128_classes_train_conditional_and_not(make_tiny_config, tmp_path):
    """129 classes of 2 images: the health monitor takes 2 samples per class, the grid 128
    rows of classes spread over all 129."""
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "many.npz"
    np.savez(path, images=rng.integers(0, 256, (258, 8, 8), dtype=np.uint8),
             labels=np.repeat(np.arange(129), 2))
    for conditional in (None, False):
        config = make_tiny_config(dataset=f"array:{path}", max_examples=None, epochs=1,
                                  conditional=conditional,
                                  output_dir=str(tmp_path / f"run_{conditional}"))
        assert train_lib.train(config, verbose=0).end_epoch == 1
        rows = train_lib.MAX_GRID_ROWS if conditional is None else 10
        with Image.open(os.path.join(config.output_dir, "samples", "final.png")) as grid:
            assert grid.size[1] >= rows * 8 and grid.size[1] < (rows + 1) * 8 + rows * 3
    assert train_lib.grid_rows(10) == (10, None)
    assert train_lib.grid_rows(128) == (128, None)
    rows, labels = train_lib.grid_rows(1000)
    assert rows == 128 and len(labels) == 1280 and labels[0] == 0 and labels[-1] == 999
    assert len(set(labels.tolist())) == 128


def test_an_array_larger_than_memory_or_torn_is_refused_before_loading(tmp_path,
                                                                        monkeypatch):
    """A header claiming 73 GiB is checked against the file size and the memory first."""
    from gan_tf import data, hardware

    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as stream:
        np.lib.format.write_array_header_1_0(stream, {
            "descr": "|u1", "fortran_order": False, "shape": (100_000_000, 28, 28, 1)})
        stream.write(b"\0" * 1000)
    with pytest.raises(UserError, match=r"truncated: its header promises .*73\.0 GiB"):
        data.load_array(str(huge))
    fits = tmp_path / "fits.npz"
    np.savez(fits, images=np.zeros((4, 8, 8), np.uint8), labels=np.arange(4))
    assert data.load_array(str(fits)).images.shape == (4, 8, 8, 1)
    monkeypatch.setattr(hardware, "available_memory", lambda: 100)
    with pytest.raises(UserError, match=r"images \(4, 8, 8\) uint8, labels \(4,\) int64: "
                                        r"288 bytes, more than the 100 bytes of memory"):
        data.load_array(str(fits))


def test_generate_refuses_more_images_than_memory_holds_before_drawing(trained_tiny_config,
                                                                       tmp_path):
    """A billion images are refused before anything is drawn or allocated (it used to run for
    a minute, then die allocating 730 GiB)."""
    from gan_tf import generate_lib

    config = trained_tiny_config()
    sampler = generate_lib.load_sampler(config.output_dir)
    started = time.perf_counter()
    for format in ("png", "npz"):
        with pytest.raises(UserError, match=r"Invalid value for argument num_images\. "
                                            r"Received: num_images=1000000000\. .* GiB"):
            generate_lib.write_dataset(sampler, tmp_path / "out", 10 ** 9, format=format)
    assert time.perf_counter() - started < 60  # refused, not drawn (drawing takes hours)
    assert sorted(os.listdir(tmp_path)) == ["run"]


@pytest.mark.parametrize("name", ["checkpoints", "samples", "generator", "config.json"])
def test_a_file_where_a_run_folder_belongs_is_refused_before_writing(trained_tiny_config,
                                                                     name):
    """A file where the run keeps a folder, or a folder where it keeps a file: refused, and
    nothing in the run changes."""
    from gan_tf import runs

    config = trained_tiny_config(epochs=3)
    path = os.path.join(config.output_dir, name)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    if name == "config.json":
        os.mkdir(path)
    else:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("not a folder")
    before = _tree(config.output_dir)
    with pytest.raises(UserError, match=re.escape(path) + r" is a (file|folder), where a "
                                                          r"gan_tf run keeps its"):
        train_lib.train(config, verbose=0)
    assert _tree(config.output_dir) == before
    if name != "config.json":
        with pytest.raises(UserError, match=re.escape(path)):
            runs.load_run(config.output_dir)


@pytest.mark.parametrize("damage", [b"", b"hello, I am not an array", "half", "shape"])
@pytest.mark.slow
def test_a_torn_or_garbage_latents_file_is_drawn_again_and_the_run_resumes(
        trained_tiny_config, tmp_path, messages, damage):
    """A torn latents.npy is drawn again from the seed, bit-identical."""
    config = trained_tiny_config()
    path = os.path.join(config.output_dir, "samples", "latents.npy")
    with open(path, "rb") as stream:
        original = stream.read()
    if damage == "half":
        damage = original[:len(original) // 2]
    elif damage == "shape":
        damage = npy_bytes(np.zeros((3, 4), np.float32))
    with open(path, "wb") as stream:
        stream.write(damage)
    resumed = dataclasses.replace(config, epochs=3)
    assert train_lib.train(resumed, verbose=0).end_epoch == 3
    with open(path, "rb") as stream:
        assert stream.read() == original
    assert any("latents.npy was unreadable" in message for message in messages)
    # The uninterrupted 3-epoch run: trained once per session (the same for every damage).
    reference = trained_tiny_config(epochs=3, output_dir=str(tmp_path / "straight"))
    assert_same_checkpoints(reference.output_dir, resumed.output_dir, save_counter=False)


@pytest.mark.slow
def test_an_intact_latents_file_is_kept_without_a_word(trained_tiny_config, messages):
    config = trained_tiny_config(conditional=True)
    train_lib.train(dataclasses.replace(config, epochs=3), verbose=0)
    assert not any("unreadable" in message for message in messages)


@pytest.mark.slow
def test_abandoned_temporaries_are_removed_and_live_ones_kept(trained_tiny_config, tmp_path):
    """What a killed generate, export or train left is removed by the next one; a folder
    another process is building now (it holds the flock) is not."""
    import fcntl

    from gan_tf import generate_lib

    config = trained_tiny_config()
    dead = tmp_path / ".out_tmp_abcd1234"
    dead.mkdir()
    (dead / "images").mkdir()
    (dead / "images" / "000000.png").write_bytes(b"half")
    live = tmp_path / ".out_tmp_live5678"
    live.mkdir()
    holder = os.open(live, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    users = tmp_path / ".out_tmp_mine"  # not a name gan_tf makes: never touched
    users.mkdir()
    try:
        sampler = generate_lib.load_sampler(config.output_dir)
        generate_lib.write_dataset(sampler, tmp_path / "out", 4, format="npz")
        assert not dead.exists() and live.exists() and users.exists()
    finally:
        os.close(holder)
    torn = os.path.join(config.output_dir, ".metrics.jsonl.abcd1234.tmp")
    staged = os.path.join(config.output_dir, ".export_tmp_abcd1234")
    with open(torn, "w", encoding="utf-8") as stream:
        stream.write('{"epoch": 3')
    os.mkdir(staged)
    train_lib.train(dataclasses.replace(config, epochs=3), verbose=0)
    assert not os.path.exists(torn) and not os.path.exists(staged)


@pytest.mark.parametrize("holdout, counts, problem", [
    (0.001, [32] * 8, r"holds out 0 of 256 images and none of 8 class\(es\).*Pass "
                      r"--holdout=0\.04 or more"),
    (0.1, [40, 40, 3], r"holds out 8 of 83 images and none of 1 class\(es\): 2 \(3 images\)"
                       r".*--holdout=0\.34 or more"),
    (0.5, [40, 1], r"holds out 20 of 41 images and none of 1 class\(es\): 1 \(1 images\)"
                   r".*Drop --holdout"),
])
def test_a_holdout_that_holds_out_nothing_of_a_class_is_refused(make_tiny_config, tmp_path,
                                                                holdout, counts, problem):
    """A --holdout that would hold out no image of some class: refused with the fix."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(counts)), counts)
    path = tmp_path / "data.npz"
    np.savez(path, images=rng.integers(0, 256, (len(labels), 8, 8), dtype=np.uint8),
             labels=labels)
    config = make_tiny_config(dataset=f"array:{path}", max_examples=None, holdout=holdout,
                              batch_size=8)
    with pytest.raises(UserError, match=r"Invalid value for argument holdout\. Received: "
                                        rf"holdout={holdout}, which " + problem):
        train_lib.train(config, verbose=0)
    assert not os.path.exists(config.output_dir)


@pytest.mark.parametrize("field, value", [("conditional", False), ("latent_dim", 7)])
def test_a_hand_edited_config_is_named_before_any_restore_warning(trained_tiny_config, capfd,
                                                                  field, value):
    """A hand-set `"conditional": false` (or another latent_dim) in config.json: one message
    naming config.json, no TensorFlow restore warnings, nothing written."""
    from gan_tf import runs

    config = trained_tiny_config(conditional=True)
    path = os.path.join(config.output_dir, "config.json")
    with open(path, encoding="utf-8") as stream:
        record = json.load(stream)
    record["config"][field] = value
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(record, stream)
    before = _tree(config.output_dir)
    capfd.readouterr()
    edited = dataclasses.replace(config, **{"epochs": 3, "conditional": None, field: value})
    problem = re.escape(path) + r" does not describe the networks of .*ckpt-2: its generator"
    with pytest.raises(UserError, match=problem):
        train_lib.train(edited, verbose=0)
    with pytest.raises(UserError, match=problem):
        runs.load_run(config.output_dir)
    assert "checkpoint" not in capfd.readouterr().err
    assert _tree(config.output_dir) == before
