"""Progress bars: shown by the user-facing jobs, silent inside training and when asked."""

import logging

import numpy as np
import pytest

from gan_tf import generate_lib, progress
from gan_tf.samplers import Sampler


def tiny_sampler():
    return Sampler(lambda latents, labels: np.zeros((len(latents), 4, 4, 1), np.float32),
                   latent_dim=2, image_shape=(4, 4, 1), num_classes=None, class_names=[],
                   description={"path": "test", "kind": "test"})


def test_a_bar_shows_only_inside_shown_and_for_long_work(capsys):
    bar = progress.bar(2000, "Outside")
    bar.add(2000)
    with progress.shown():
        progress.bar(10, "Short work").add(10)
        assert capsys.readouterr().out == ""
        bar = progress.bar(2000, "Drawing 2,000 samples")
        bar.add(1000)
        bar.add(1000)
    out = capsys.readouterr().out
    assert "Drawing 2,000 samples" in out and "2000/2000" in out and "Outside" not in out


def test_the_gan_tf_logger_level_silences_bars(capsys):
    logger = logging.getLogger("gan_tf")
    before = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with progress.shown():
            progress.bar(5000, "Quiet").add(5000)
    finally:
        logger.setLevel(before)
    assert capsys.readouterr().out == ""


def test_writing_a_dataset_shows_its_progress_and_plain_sampling_does_not(tmp_path, capsys):
    sampler = tiny_sampler()
    sampler.generate(1500)  # as the sample-quality callback would, inside fit
    assert capsys.readouterr().out == ""
    generate_lib.write_dataset(sampler, str(tmp_path / "data"), 1500, format="npz",
                               batch_size=500)
    out = capsys.readouterr().out
    assert "Drawing 1,500 samples" in out and "1500/1500" in out


@pytest.mark.parametrize("total", [999, 1000])
def test_the_threshold_is_inclusive(total, capsys):
    with progress.shown():
        progress.bar(total, "Work").add(total)
    assert ("Work" in capsys.readouterr().out) == (total >= 1000)
