"""`gan_tf.generate_lib` and `python -m gan_tf.generate`: labelled synthetic datasets."""

import json
import os
import re

import numpy as np
import pytest

from conftest import ACROSS_BATCH_SIZES_ATOL, run_python, run_python_together
from gan_tf import generate_lib
from gan_tf.config import TrainConfig
from gan_tf.errors import UserError
from gan_tf.images import to_uint8

MNIST_NAMES = [str(digit) for digit in range(10)]


def _train(directory, **overrides):
    from gan_tf import train_lib

    # Unscored (eval_every_n_epochs=0): nothing here reads the scores or a best checkpoint.
    config = TrainConfig(architecture="mlp", max_examples=64, batch_size=32, epochs=1,
                         eval_every_n_epochs=0, output_dir=str(directory), **overrides)
    train_lib.train(config, verbose=0)
    return str(directory)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("conditional") / "run", conditional=True)


@pytest.fixture(scope="module")
def unconditional_run(tmp_path_factory):
    # With an EMA generator: the sampler must use the averaged weights, as the export does.
    return _train(tmp_path_factory.mktemp("unconditional") / "run", ema_decay=0.9,
                  conditional=False)


@pytest.fixture(scope="module")
def conditional_sampler(conditional_run):
    return generate_lib.load_sampler(conditional_run)


def _expected_pixels(sampler, num_images, seed, classes, batch_size=500):
    # The dataset's own batch size: pixels are compared exactly (see ACROSS_BATCH_SIZES_ATOL).
    plan = generate_lib.label_plan(num_images, classes)
    return to_uint8(sampler.generate(num_images, seed=seed, labels=plan,
                                     batch_size=batch_size)), plan


@pytest.mark.slow
def test_sampler_of_a_run_describes_it_and_matches_gan_generate(conditional_run,
                                                                conditional_sampler):
    from gan_tf import train_lib

    sampler = conditional_sampler
    assert sampler.num_classes == 10 and sampler.class_names == MNIST_NAMES
    assert sampler.image_shape == (28, 28, 1)
    assert sampler.description == {
        "path": conditional_run, "kind": "run", "checkpoint": "latest", "epochs": 1,
        "dataset": "embedded_mnist",
        "architecture": "mlp", "conditional": True, "ema": False}
    gan, _, _ = train_lib.load_run(conditional_run)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], np.int32)
    # Batches of 3 give the images of one GAN.generate call: latents come from one draw.
    images = sampler.generate(7, seed=5, labels=labels, batch_size=3)
    np.testing.assert_array_equal(images,
                                  gan.generate(7, seed=5, labels=labels, batch_size=3))
    np.testing.assert_allclose(images, gan.generate(7, seed=5, labels=labels),
                               atol=ACROSS_BATCH_SIZES_ATOL)
    assert images.dtype == np.float32 and images.shape == (7, 28, 28, 1)
    assert not np.allclose(images[0], images[1])
    # Your own latents: the same images from the same latents; scaled ones differ.
    from gan_tf.gan import sample_latents

    latents = np.asarray(sample_latents(7, sampler.latent_dim, 5, sampler.latent_distribution))
    np.testing.assert_array_equal(sampler.images_for(latents, labels, batch_size=3), images)
    assert not np.allclose(sampler.images_for(0.5 * latents, labels, batch_size=3), images)
    with pytest.raises(UserError, match=re.escape(f"shape (N, {sampler.latent_dim})")):
        sampler.images_for(latents[:, :5])


@pytest.mark.parametrize("which", ["conditional_run", "unconditional_run"])
def test_run_directory_and_its_export_give_the_same_images(which, request):
    run_dir = request.getfixturevalue(which)
    from_run = generate_lib.load_sampler(run_dir)
    from_export = generate_lib.load_sampler(os.path.join(run_dir, "generator"))
    assert from_export.description["kind"] == "export"
    assert from_export.description["ema"] == (which == "unconditional_run")
    assert from_run.description["ema"] == (which == "unconditional_run")
    assert (from_export.num_classes, from_export.class_names, from_export.image_shape) == (
        from_run.num_classes, from_run.class_names, from_run.image_shape)
    labels = [7, 0, 7, 2, 9] if from_run.num_classes else None
    expected = from_run.generate(5, seed=11, labels=labels)
    np.testing.assert_allclose(from_export.generate(5, seed=11, labels=labels, batch_size=2),
                               expected, atol=1e-5)
    # Another seed gives other images.
    assert np.abs(from_run.generate(5, seed=12, labels=labels) - expected).max() > 1e-2


def test_png_folders_load_with_keras_with_the_asked_labels(conditional_sampler, tmp_path):
    import keras

    output = tmp_path / "png"
    manifest = generate_lib.write_dataset(conditional_sampler, str(output), 23, "png", seed=2)
    assert sorted(os.listdir(output)) == MNIST_NAMES + ["manifest.json"]
    dataset = keras.utils.image_dataset_from_directory(
        str(output), image_size=(28, 28), color_mode="grayscale", shuffle=False,
        batch_size=None, verbose=False)
    assert dataset.class_names == MNIST_NAMES
    pixels = np.stack([image.numpy() for image, _ in dataset])
    labels = np.array([int(label) for _, label in dataset])
    expected, plan = _expected_pixels(conditional_sampler, 23, 2, range(10))
    # Keras reads class by class, files sorted by name (the image's index in the dataset).
    order = np.lexsort((np.arange(23), plan))
    np.testing.assert_array_equal(labels, plan[order])
    np.testing.assert_array_equal(pixels.astype(np.uint8), expected[order])
    assert manifest["counts"] == {name: (3 if int(name) < 3 else 2) for name in MNIST_NAMES}
    assert manifest["class_folders"] == {name: name for name in MNIST_NAMES}
    assert sorted(os.listdir(output / "4")) == ["000004.png", "000014.png"]


def _npz_dataset(sampler, output):
    return generate_lib.write_dataset(sampler, str(output), 10, "npz", seed=4, labels="0,3,7",
                                      batch_size=4)


def test_npz_holds_the_images_labels_and_class_names(conditional_sampler, tmp_path):
    _npz_dataset(conditional_sampler, tmp_path / "npz")
    with np.load(tmp_path / "npz" / "data.npz") as arrays:
        assert sorted(arrays.files) == ["class_names", "images", "labels"]
        images, labels, names = arrays["images"], arrays["labels"], arrays["class_names"]
    expected, plan = _expected_pixels(conditional_sampler, 10, 4, [0, 3, 7], batch_size=4)
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    np.testing.assert_array_equal(images, expected)
    assert labels.tolist() == [0, 3, 7, 0, 3, 7, 0, 3, 7, 0] == plan.tolist()
    assert names.tolist() == MNIST_NAMES


def test_the_manifest_describes_the_dataset_and_its_making(conditional_sampler, tmp_path):
    manifest = _npz_dataset(conditional_sampler, tmp_path / "npz")
    with open(tmp_path / "npz" / "manifest.json", encoding="utf-8") as stream:
        assert json.load(stream) == manifest
    assert {name: count for name, count in manifest["counts"].items() if count} == {
        "0": 4, "3": 3, "7": 3}
    assert (manifest["classes"], manifest["seed"], manifest["num_images"]) == ([0, 3, 7], 4, 10)
    assert manifest["latent_distribution"] == "normal"
    assert manifest["files"] == ["data.npz"] and manifest["format"] == "npz"
    assert manifest["model"]["kind"] == "run" and manifest["image_shape"] == [28, 28, 1]
    from gan_tf import __version__

    assert manifest["gan_tf_version"] == __version__
    assert manifest["created"].endswith("+00:00")


def test_tfrecord_reads_back_pixel_exact_against_npz(conditional_sampler, tmp_path):
    generate_lib.write_dataset(conditional_sampler, str(tmp_path / "npz"), 9, "npz", seed=6,
                               labels="2,5")
    generate_lib.write_dataset(conditional_sampler, str(tmp_path / "tfrecord"), 9, "tfrecord",
                               seed=6, labels="2,5")
    assert sorted(os.listdir(tmp_path / "tfrecord")) == ["data.tfrecord", "manifest.json"]
    dataset = generate_lib.read_tfrecord(str(tmp_path / "tfrecord" / "data.tfrecord"))
    assert dataset.element_spec[0].shape == (28, 28, 1)
    records = list(dataset)
    with np.load(tmp_path / "npz" / "data.npz") as arrays:
        np.testing.assert_array_equal(np.stack([image.numpy() for image, _ in records]),
                                      arrays["images"])
        assert [int(label) for _, label in records] == arrays["labels"].tolist()
    assert records[0][0].dtype.name == "uint8"
    assert len(list(generate_lib.read_tfrecord(str(tmp_path / "tfrecord")))) == 9  # the folder
    with pytest.raises(UserError, match="not found"):
        generate_lib.read_tfrecord(str(tmp_path / "npz"))


def test_unconditional_model_writes_unlabelled_data_and_refuses_labels(unconditional_run,
                                                                        tmp_path):
    import keras

    sampler = generate_lib.load_sampler(unconditional_run)
    assert sampler.num_classes is None and sampler.class_names == []
    expected = to_uint8(sampler.generate(5, seed=1))
    manifest = generate_lib.write_dataset(sampler, str(tmp_path / "png"), 5, "png", seed=1)
    assert manifest["counts"] is None and manifest["files"] == ["images"]
    assert sorted(os.listdir(tmp_path / "png" / "images")) == [f"00000{i}.png" for i in range(5)]
    dataset = keras.utils.image_dataset_from_directory(
        str(tmp_path / "png"), labels=None, image_size=(28, 28), color_mode="grayscale",
        shuffle=False, batch_size=None, verbose=False)
    np.testing.assert_array_equal(np.stack(list(dataset)).astype(np.uint8), expected)

    generate_lib.write_dataset(sampler, str(tmp_path / "npz"), 5, "npz", seed=1)
    with np.load(tmp_path / "npz" / "data.npz") as arrays:
        assert arrays.files == ["images"]
        np.testing.assert_array_equal(arrays["images"], expected)
    generate_lib.write_dataset(sampler, str(tmp_path / "tfrecord"), 5, "tfrecord", seed=1)
    images = [image.numpy() for image in generate_lib.read_tfrecord(str(tmp_path / "tfrecord"))]
    np.testing.assert_array_equal(np.stack(images), expected)

    with pytest.raises(UserError, match="Received: labels='0,1'.*not class-conditional"):
        generate_lib.write_dataset(sampler, str(tmp_path / "labelled"), 5, "npz", labels="0,1")
    assert not os.path.exists(tmp_path / "labelled")


def test_non_empty_output_is_refused_and_left_untouched(conditional_sampler, tmp_path):
    output = tmp_path / "data"
    output.mkdir()
    (output / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match=r"data is not empty \(1 entries\); nothing was written"):
        generate_lib.write_dataset(conditional_sampler, str(output), 4, "png")
    assert os.listdir(output) == ["mine.txt"] and (output / "mine.txt").read_text() == "keep me"
    assert os.listdir(tmp_path) == ["data"]  # no staging folder left behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        generate_lib.write_dataset(conditional_sampler, str(tmp_path / "file"), 4, "npz")
    # An existing empty folder is fine.
    (tmp_path / "empty").mkdir()
    generate_lib.write_dataset(conditional_sampler, tmp_path / "empty", 4, "npz")  # a Path
    assert sorted(os.listdir(tmp_path / "empty")) == ["data.npz", "manifest.json"]


def test_a_failure_midway_leaves_no_partial_dataset(conditional_sampler, tmp_path):
    calls = []

    def failing_batch(latents, labels):
        calls.append(len(latents))
        if len(calls) == 2:
            raise RuntimeError("generator crashed")
        return np.zeros((len(latents), 28, 28, 1), np.float32)

    broken = generate_lib.Sampler(failing_batch, 100, (28, 28, 1), 10, MNIST_NAMES, {})
    with pytest.raises(RuntimeError, match="generator crashed"):
        generate_lib.write_dataset(broken, str(tmp_path / "out"), 10, "png", batch_size=4)
    assert calls == [4, 4]
    assert os.listdir(tmp_path) == []  # neither the output nor the staging folder


@pytest.mark.parametrize("text, expected", [
    (None, list(range(10))),
    ("balanced", list(range(10))),
    ("0,3,7", [0, 3, 7]),
    (" 7 , 3 ", [7, 3]),
])
def test_parse_labels_accepts_indices(text, expected):
    assert generate_lib.parse_labels(text, 10, MNIST_NAMES) == expected


def test_parse_labels_accepts_class_names_before_indices():
    names = ["bird", "cat", "dog"]
    assert generate_lib.parse_labels("dog,cat", 3, names) == [2, 1]
    assert generate_lib.parse_labels("bird,2", 3, names) == [0, 2]
    # A name wins over an index: in a folder dataset with classes "1", "2", "3", "1" is class 0.
    assert generate_lib.parse_labels("1", 3, ["1", "2", "3"]) == [0]
    assert generate_lib.parse_labels("0", 3, ["1", "2", "3"]) == [0]


@pytest.mark.parametrize("text, num_classes, message", [
    ("0,12", 10, r"Received: labels='0,12'.*\[0, 10\).*not a class: 12"),
    ("cat,dgo", 3, r"Received: labels='cat,dgo'.*'bird', 'cat', 'dog'.*not a class: dgo"),
    ("-1", 3, "not a class: -1"),
    ("0,0", 10, r"repeated: 0"),
    ("cat,1", 3, "named twice"),
    ("", 10, "no empty item"),
    ("0,,3", 10, "no empty item"),
    ("0", None, "not class-conditional"),
    ("balanced", None, "not class-conditional"),
])
def test_parse_labels_refuses_with_the_choices(text, num_classes, message):
    names = MNIST_NAMES if num_classes == 10 else ["bird", "cat", "dog"]
    with pytest.raises(UserError, match=message):
        generate_lib.parse_labels(text, num_classes, names)


def test_label_plan_is_balanced_and_deterministic():
    plan = generate_lib.label_plan(11, [4, 1, 8])
    assert plan.dtype == np.int32
    assert plan.tolist() == [4, 1, 8, 4, 1, 8, 4, 1, 8, 4, 1]
    counts = np.bincount(generate_lib.label_plan(1000, range(7)))
    assert counts.tolist() == [143] * 6 + [142]


@pytest.mark.parametrize("names, expected", [
    (MNIST_NAMES, MNIST_NAMES),
    (["cat", "dog"], ["cat", "dog"]),
    (["dog", "cat"], ["0_dog", "1_cat"]),  # not in sorted order
    ([str(i) for i in range(12)], [f"{i:02d}_{i}" for i in range(12)]),  # "10" < "2"
    (["T-shirt/top", "Trouser"], ["0_T-shirt_top", "1_Trouser"]),  # a path separator
    ([".hidden", "shown"], ["0_hidden", "1_shown"]),  # Keras skips dot folders
    (["Cat", "cat"], ["0_Cat", "1_cat"]),  # one folder on a case-insensitive disk
])
def test_class_folders_sort_in_class_order(names, expected):
    folders = generate_lib.class_folders(names)
    assert folders == expected
    assert sorted(folders) == folders and len(set(folders)) == len(folders)


def test_bad_model_paths_say_what_was_expected(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(UserError, match=re.escape(missing) + ": it does not exist.*config.json.*gan_tf.json"):
        generate_lib.load_sampler(missing)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="holds neither config.json nor gan_tf.json"):
        generate_lib.load_sampler(str(tmp_path))
    with pytest.raises(UserError, match="is a file"):
        generate_lib.load_sampler(str(tmp_path / "notes.txt"))


@pytest.mark.parametrize("arguments, message", [
    (dict(num_images=0), "Received: num_images=0"),
    (dict(format="gif"), "Received: format='gif'. Expected one of 'png', 'npz', 'tfrecord'"),
    (dict(batch_size=-1), "Received: batch_size=-1"),
    (dict(seed=-3), "Received: seed=-3"),
])
def test_write_dataset_validates_arguments_before_writing(arguments, message,
                                                          conditional_sampler, tmp_path):
    values = dict(num_images=4, format="npz")
    values.update(arguments)
    with pytest.raises(UserError, match=message):
        generate_lib.write_dataset(conditional_sampler, str(tmp_path / "out"), **values)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_cli_writes_a_dataset_and_prints_one_summary_line(conditional_run, tmp_path):
    output = tmp_path / "synthetic"
    result = run_python(["-m", "gan_tf.generate", f"--model={conditional_run}",
                         "--num_images=10", "--format=npz", "--labels=3,7", "--seed=1",
                         f"--output={output}"], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == (
        f"Wrote 10 images (3: 5, 7: 5) as npz to {output} "
        f"(manifest: {output / 'manifest.json'})")
    with np.load(output / "data.npz") as arrays:
        assert arrays["labels"].tolist() == [3, 7] * 5 and arrays["images"].shape[0] == 10
    assert sorted(os.listdir(tmp_path)) == ["synthetic"]  # nothing in the working directory


@pytest.mark.parametrize("flag, message", [
    ("--num_images=0", "Received: num_images=0"),
    ("--format=gif", "Received: format='gif'"),
    ("--labels=0,,3", "Received: labels='0,,3'"),
    ("--num_images=many", "num_images"),
])
@pytest.mark.slow
def test_cli_bad_flags_exit_2_before_loading_anything(flag, message, tmp_path):
    result = run_python(["-m", "gan_tf.generate", "--model=/no/such/run", flag,
                         f"--output={tmp_path / 'out'}"], cwd=str(tmp_path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_cli_module_does_not_import_tensorflow_to_check_flags():
    result = run_python(["-c", "import sys, gan_tf.generate; "
                         "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_cli_exit_codes_for_a_bad_model_and_labels_the_model_lacks(conditional_run, tmp_path):
    missing, out_of_range = run_python_together([  # side by side: their imports overlap
        (["-m", "gan_tf.generate", f"--model={tmp_path / 'nowhere'}",
          f"--output={tmp_path / 'out'}"], str(tmp_path)),
        (["-m", "gan_tf.generate", f"--model={conditional_run}", "--labels=3,12",
          f"--output={tmp_path / 'out'}"], str(tmp_path))])
    assert missing.returncode == 1, (missing.stdout, missing.stderr)
    assert missing.stderr.strip().splitlines()[-1].startswith("error: Cannot generate from")
    assert "Traceback" not in missing.stderr
    assert out_of_range.returncode == 2, (out_of_range.stdout, out_of_range.stderr)
    assert "Received: labels='3,12'" in out_of_range.stderr
    assert "Traceback" not in out_of_range.stderr
    assert os.listdir(tmp_path) == []
