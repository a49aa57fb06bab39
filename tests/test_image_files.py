import os

import numpy as np
import pytest

from conftest import write_image_folder
from gan_tf import data, image_files
from gan_tf.errors import UserError


@pytest.fixture
def folder(tmp_path):
    return write_image_folder(tmp_path / "rgb", count=300, size=(6, 5), mode="RGB",
                              classes=("a", "b"))


def _streamed(root, **options):
    return data.load_images(f"folder:{root}", cache="stream", **options)


def test_file_images_index_like_the_array_in_memory(folder):
    memory = data.load_images(f"folder:{folder}", cache="memory").images
    lazy = _streamed(folder).images
    assert isinstance(memory, np.ndarray) and isinstance(lazy, image_files.FileImages)
    assert lazy.shape == memory.shape == (600, 5, 6, 3) and lazy.dtype == np.uint8
    assert len(lazy) == 600 and lazy.ndim == 4 and lazy.nbytes == memory.nbytes
    np.testing.assert_array_equal(lazy[7], memory[7])
    np.testing.assert_array_equal(lazy[10:300:7], memory[10:300:7])
    picks = np.array([599, 0, 3, 3, 412])
    np.testing.assert_array_equal(lazy[picks], memory[picks])
    mask = np.arange(600) % 5 == 1
    np.testing.assert_array_equal(lazy[mask], memory[mask])
    np.testing.assert_array_equal(np.asarray(lazy), memory)  # all of it, in threads
    part = lazy.subset(picks)
    assert part.shape == (5, 5, 6, 3)
    np.testing.assert_array_equal(part[1:3], memory[[0, 3]])
    with pytest.raises(IndexError):
        lazy[1, 2]


def test_headers_decide_shape_and_mode_without_decoding(tmp_path):
    from PIL import Image

    root = tmp_path / "mixed_modes"
    root.mkdir()
    Image.new("L", (4, 3), 200).save(root / "gray.png")
    Image.new("RGBA", (4, 3), (10, 20, 30, 128)).save(root / "rgba.png")
    headers, bad = image_files.read_headers(sorted(str(p) for p in root.iterdir()))
    assert not bad and sorted(mode for mode, _ in headers.values()) == ["L", "RGBA"]
    assert not image_files.is_gray(mode for mode, _ in headers.values())
    images = _streamed(root).images
    assert images.shape == (2, 3, 4, 3)


def test_exif_rotated_photo_has_its_upright_size_before_decoding(tmp_path):
    from PIL import Image

    root = tmp_path / "photos"
    root.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (8, 4), (200, 10, 10)).save(root / "rotated.jpg", exif=exif)
    Image.new("RGB", (4, 8), (10, 200, 10)).save(root / "upright.jpg")
    streamed = _streamed(root).images
    assert streamed.shape == (2, 8, 4, 3)
    np.testing.assert_array_equal(np.asarray(streamed),
                                  data.load_images(f"folder:{root}", cache="memory").images)


def test_broken_data_behind_a_good_header_is_named_when_decoded(tmp_path):
    root = write_image_folder(tmp_path / "imgs", count=70, classes=())
    good = (tmp_path / "imgs" / "0.png").read_bytes()
    (tmp_path / "imgs" / "z.png").write_bytes(good[:60])  # the header survives, not the data
    streamed = _streamed(root)  # headers only, and the first 64 images for the pixel check
    assert len(streamed) == 71
    with pytest.raises(UserError, match=r"Cannot read the image file .*z\.png .*same name"):
        streamed.images[[0, 70]]
    assert [os.path.basename(f) for f in streamed.images.failures] == ["z.png"]
    with pytest.raises(UserError, match=r"1 of the 71 image files .* z\.png"):
        data.load_images(f"folder:{root}", cache="memory")
    (tmp_path / "imgs" / "00.png").write_bytes(good[:60])  # among the first 64: found at once
    with pytest.raises(UserError, match=r"00\.png"):
        _streamed(root)


def test_fingerprint_follows_the_files_without_decoding_them(folder):
    images = _streamed(folder).images
    first = images.fingerprint()
    assert first == _streamed(folder).images.fingerprint()
    path = images.files[3]
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert images.fingerprint() != first


def test_many_files_are_decoded_in_threads_in_order(folder, monkeypatch):
    images = _streamed(folder).images
    threads = set()
    original = image_files.read_image

    def recording(*args, **kwargs):
        import threading

        threads.add(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(image_files, "read_image", recording)
    order = np.arange(600)[::-1]
    decoded = images.decode(order, threads=2)
    assert len(threads) == 2  # 600 files are 3 chunks of 256: both threads work
    np.testing.assert_array_equal(decoded[::-1], data.load_images(f"folder:{folder}",
                                                                  cache="memory").images)


def test_tiff_files_are_images_and_other_files_are_skipped_with_one_line(tmp_path, messages):
    """Issue 25's borderline cases: .tif/.tiff load like PNG; other files are skipped, said
    in one line with their count and extensions."""
    from PIL import Image

    root = write_image_folder(tmp_path / "mixed", count=3, size=(6, 5), classes=("a", "b"))
    pixels = np.arange(30, dtype=np.uint8).reshape(5, 6)
    Image.fromarray(pixels).save(os.path.join(root, "a", "t.tif"))
    Image.fromarray(pixels).save(os.path.join(root, "b", "t.TIFF"))
    for name in ("notes.txt", "b/readme.txt", "a/raw.cr2", "a/.hidden"):
        with open(os.path.join(root, name), "w", encoding="utf-8") as stream:
            stream.write("x")
    loaded = data.load_images(f"folder:{root}")
    assert len(loaded) == 8 and loaded.class_names == ["a", "b"]
    np.testing.assert_array_equal(loaded.images[3, ..., 0], pixels)
    skipped = [m for m in messages if m.startswith("Skipped")]
    assert skipped == [f"Skipped 3 file(s) in {root} that are not images (1 .cr2, 2 .txt); "
                       "images end in .png, .jpg, .jpeg, .bmp, .gif, .webp, .tif, .tiff."]


def test_class_folders_mixed_with_loose_or_nested_images_warn_they_give_no_labels(
        tmp_path, messages):
    root = write_image_folder(tmp_path / "mixed", count=2, size=(6, 5), classes=("a", "b"))
    write_image_folder(os.path.join(root, "a", "deeper"), count=1, size=(6, 5), classes=())
    write_image_folder(os.path.join(root, "loose"), count=1, size=(6, 5), classes=())
    os.rename(os.path.join(root, "loose", "0.png"), os.path.join(root, "0.png"))
    loaded = data.load_images(f"folder:{root}")
    assert loaded.labels is None and len(loaded) == 6
    assert [m for m in messages if "mixes class folders" in m] == [
        f"{root} mixes class folders with 1 image(s) directly in it and 1 in folders inside "
        "class folders, so it has no labels: it trains unconditionally. For labels, put every "
        "image in a folder of its class, directly under the dataset folder."]
    flat = write_image_folder(tmp_path / "flat", count=2, size=(6, 5), classes=())
    messages.clear()
    assert data.load_images(f"folder:{flat}").labels is None and not messages


def test_no_decompression_bomb_warning_reaches_the_user(tmp_path, monkeypatch):
    """PIL warns on 89-179 megapixels; gan_tf sizes images itself (here the limit is lowered
    so that a small image stands for a 12000 x 12000 one)."""
    import warnings

    from PIL import Image

    root = write_image_folder(tmp_path / "big", count=2, size=(12, 12), classes=())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for cache in ("memory", "stream"):
            loaded = data.load_images(f"folder:{root}", cache=cache)
            loaded.images[0]
        with Image.open(os.path.join(root, "0.png")):  # PIL alone does warn
            pass
    assert [type(w.message) for w in caught] == [Image.DecompressionBombWarning]
