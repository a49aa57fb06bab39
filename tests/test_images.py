import numpy as np
import pytest

from gan_tf import images


def test_to_uint8_maps_range_ends_and_clips():
    pixels = images.to_uint8(np.array([-1.0, 0.0, 1.0, -3.0, 3.0]))
    assert pixels.tolist() == [0, 128, 255, 0, 255]
    assert images.to_uint8(np.array([0.0, 1.0]), value_range=(0, 1)).tolist() == [0, 255]


def test_grid_layout_row_major_with_padding():
    tiles = np.stack([np.full((2, 3, 1), value, np.uint8) for value in (10, 20, 30)])
    grid = images.make_grid(tiles, num_rows=2, padding=1, pad_value=0)
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1)
    assert grid[1, 1, 0] == 10 and grid[1, 5, 0] == 20 and grid[4, 1, 0] == 30
    assert grid[4, 5, 0] == 0  # the missing fourth tile stays padding


def test_png_and_gif_round_trip(tmp_path):
    from PIL import Image

    frame = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    images.save_png(frame, tmp_path / "a.png")
    np.testing.assert_array_equal(images.read_png(tmp_path / "a.png"), frame)
    gray = frame[..., :1]
    images.save_gif([gray, 255 - gray, gray], tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="num_rows=0"):
        images.make_grid(np.zeros((1, 2, 2, 1), np.uint8), num_rows=0)
    with pytest.raises(ValueError, match="4-D"):
        images.make_grid(np.zeros((2, 2), np.uint8), num_rows=1)
