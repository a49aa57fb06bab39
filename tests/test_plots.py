"""The run's figures: PNGs written without touching the user's matplotlib state."""

import matplotlib
import numpy as np
import pytest

from gan_tf import images, plots


@pytest.fixture
def svg_backend():
    """pyplot on another backend (as a notebook's inline one would be), restored after."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend("svg")
    yield plt
    plt.switch_backend(before)


def test_plots_leave_the_backend_and_pyplot_figures_alone(tmp_path, svg_backend):
    plt = svg_backend
    mine = plt.figure()
    records = [{"epoch": e, "d_loss": 1.0 / e, "g_loss": 0.5 * e, "real_accuracy": 0.6,
                "fake_accuracy": 0.4, "fd": 10.0 / e, "kid": 1.0, "class_coverage": 10}
               for e in (1, 2, 3)]
    plots.plot_metrics(records, tmp_path / "losses.png")
    plots.plot_scores(records, tmp_path / "scores.png")
    plots.plot_class_histogram([5, 3, 2], [4, 4, 2], tmp_path / "classes.png", ["a", "b", "c"])
    assert matplotlib.get_backend().lower() == "svg"
    assert plt.get_fignums() == [mine.number]  # nothing opened, nothing closed
    plt.close(mine)
    for name in ("losses.png", "scores.png", "classes.png"):
        pixels = images.read_png(tmp_path / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300 and np.std(pixels) > 10
