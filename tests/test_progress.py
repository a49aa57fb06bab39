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


@pytest.fixture
def terminal(monkeypatch):
    """Standard output taken for a terminal, where the bar redraws one line (Keras's)."""
    monkeypatch.setattr(progress, "_is_terminal", lambda stream: True)


def test_a_bar_shows_only_inside_shown_and_for_long_work(capsys, terminal):
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


def test_writing_a_dataset_shows_its_progress_and_plain_sampling_does_not(tmp_path, capsys,
                                                                          terminal):
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


def test_without_a_terminal_the_bar_writes_plain_lines_without_redraws(capsys):
    """`generate > log`: a line per tenth, no carriage return or colour code."""
    with progress.shown():
        bar = progress.bar(2000, "Drawing 2,000 samples")
        for _ in range(8):
            bar.add(250)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out and "\b" not in out
    assert out.splitlines() == ["Drawing 2,000 samples"] + [
        f"  {done:,} of 2,000 images ({done // 20}%)" for done in range(250, 2001, 250)
        if done * 10 // 2000 > (done - 250) * 10 // 2000]
