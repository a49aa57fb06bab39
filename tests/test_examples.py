"""The examples run as a user copies them (one or two epochs) and do what they say."""

import os

import pytest

from conftest import REPO, run_python


@pytest.mark.slow
def test_python_api_example(tmp_path):
    result = run_python([os.path.join(REPO, "examples", "python_api.py"), str(tmp_path), "1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the export gives the same images: True" in result.stdout


@pytest.mark.slow
def test_callbacks_example_in_a_vae_resumes(tmp_path):
    script = os.path.join(REPO, "examples", "callbacks_in_keras_project.py")
    first = run_python([script, str(tmp_path), "1"])
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_python([script, str(tmp_path), "2"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Restored" in second.stdout and "1 finished epochs" in second.stdout
    assert sorted(os.listdir(tmp_path / "samples")) == [
        "epoch_0001.png", "epoch_0002.png", "final.png", "latents.npy"]
    assert (tmp_path / "progress.gif").exists() and (tmp_path / "loss.png").exists()
