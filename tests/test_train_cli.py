"""`python -m gan_tf.train` as a user runs it, in subprocesses."""

import os
import time

import pytest

from conftest import run_python

TINY = ["--architecture=mlp", "--max_examples=256", "--epochs=1", "--nodownload"]


@pytest.mark.slow
def test_cli_trains_resumes_and_says_when_finished(tmp_path):
    run_dir = str(tmp_path / "run")
    first = run_python(["-m", "gan_tf.train", *TINY, f"--output_dir={run_dir}"],
                       cwd=str(tmp_path))
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Finished epoch 1" in first.stdout
    assert os.path.exists(os.path.join(run_dir, "samples", "final.png"))
    assert os.path.exists(os.path.join(run_dir, "generator", "saved_model.pb"))
    assert sorted(os.listdir(tmp_path)) == ["run"]  # nothing in the working directory

    again = run_python(["-m", "gan_tf.train", *TINY, f"--output_dir={run_dir}"],
                       cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already finished 1 of 1 epochs" in again.stdout

    more = run_python(["-m", "gan_tf.train", *TINY[:-2], "--epochs=2", "--nodownload",
                       f"--output_dir={run_dir}"], cwd=str(tmp_path))
    assert more.returncode == 0, more.stderr[-3000:]
    assert "Restored" in more.stdout and "1 finished epochs" in more.stdout
    assert "epochs 2-2" in more.stdout


@pytest.mark.parametrize("flag, message", [
    ("--epochs=0", "Received: epochs=0"),
    ("--batch_size=-8", "Received: batch_size=-8"),
    ("--loss=wgan", "Received: loss='wgan'"),
    ("--architecture=unet", "Received: architecture='unet'"),
    ("--epochs=many", "epochs"),
    ("--gradient_penalty=-1", "Received: gradient_penalty=-1"),
    ("--discriminator_steps=0", "Received: discriminator_steps=0"),
    ("--augment=mixup", "Received: augment='mixup'"),
    ("--no_such_flag=1", "no_such_flag"),
    # Combinations that make no sense.
    ("--loss=wasserstein", "Add --gradient_penalty=10 (WGAN-GP) or --spectral_norm"),
    ("--gradient_penalty=10 --r1_penalty=1", "Choose one"),
    ("--ada_target=0.7", "only acts with --augment=ada"),
    ("--augment=diffaugment --ada_ramp_images=1000", "only acts with --augment=ada"),
])
def test_bad_flags_exit_2_before_anything_is_written(flag, message, tmp_path):
    started = time.monotonic()
    result = run_python(["-m", "gan_tf.train", *flag.split(), f"--output_dir={tmp_path / 'run'}"],
                        cwd=str(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("flags, message", [
    (["--dataset=mnistt"], "Unknown dataset: received --dataset='mnistt'"),
    (["--dataset=mnist"], "--data_dir"),
    (["--dataset=folder:/definitely/missing"], "Image folder not found"),
])
def test_bad_datasets_exit_1_fast_with_one_message(flags, message, tmp_path):
    started = time.monotonic()
    result = run_python(["-m", "gan_tf.train", *flags, "--nodownload",
                         f"--data_dir={tmp_path / 'tfds'}", f"--output_dir={tmp_path / 'run'}"],
                        cwd=str(tmp_path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "run")
    assert time.monotonic() - started < 60
