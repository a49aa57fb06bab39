"""The exported generator loads in a fresh process that cannot import gan_tf."""

import json
import os
import textwrap

import numpy as np
import pytest

from conftest import run_python
from gan_tf import export, networks
from gan_tf.gan import GAN

FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    sys.modules["gan_tf"] = None  # any import of gan_tf now raises ImportError
    import numpy as np
    import tensorflow as tf
    path, expected_path = sys.argv[1], sys.argv[2]
    try:
        import gan_tf
        raise SystemExit("gan_tf was importable")
    except ImportError:
        pass
    model = tf.saved_model.load(path)
    expected = np.load(expected_path)
    serve = model.signatures["serve"](z=tf.constant(expected["z"]))["images"].numpy()
    generated = model.signatures["generate"](
        num_images=tf.constant(5), seed=tf.constant(11, tf.int64))
    images = generated["images"].numpy()
    print("RESULT " + json.dumps({
        "signatures": sorted(model.signatures),
        "serve_shape": list(serve.shape), "generate_shape": list(images.shape),
        "latents_shape": list(generated["latents"].shape),
        "latents_range": [float(generated["latents"].numpy().min()),
                          float(generated["latents"].numpy().max())],
        "min": float(min(serve.min(), images.min())),
        "max": float(max(serve.max(), images.max())),
        "serve_diff": float(np.abs(serve - expected["serve"]).max()),
        "generate_diff": float(np.abs(images - expected["generate"]).max()),
        "gan_tf_loaded": any(m.startswith("gan_tf") and sys.modules[m] is not None
                             for m in sys.modules),
    }))
""")


@pytest.mark.parametrize("architecture, image_shape, distribution", [
    ("dcgan", (12, 12, 3), "normal"), ("mlp", (28, 28, 1), "normal"),
    ("mlp", (28, 28, 1), "uniform")])
@pytest.mark.slow
def test_export_loads_without_gan_tf_and_matches(architecture, image_shape, distribution,
                                                 tmp_path):
    generator = networks.make_generator(architecture, 6, image_shape, filters=4,
                                        latent_distribution=distribution)
    gan = GAN(generator, networks.make_discriminator(architecture, image_shape, filters=4))
    gan.compile()
    gan.fit(np.zeros((8,) + image_shape, "float32"), epochs=1, batch_size=4, verbose=0)
    path = export.export_generator(generator, str(tmp_path / "generator"))
    z = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    np.savez(tmp_path / "expected.npz", z=z, serve=generator(z, training=False),
             generate=gan.generate(5, seed=11))
    result = run_python(["-c", FRESH_PROCESS, path, str(tmp_path / "expected.npz")],
                        cwd=str(tmp_path), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next(line for line in result.stdout.splitlines()
                             if line.startswith("RESULT "))[len("RESULT "):])
    assert {"serve", "generate"} <= set(report["signatures"])
    assert report["serve_shape"] == [3, *image_shape]
    assert report["generate_shape"] == [5, *image_shape]
    assert report["latents_shape"] == [5, 6]
    # generate draws the generator's z: within [-1, 1] when uniform, beyond it when normal.
    low, high = report["latents_range"]
    assert (-1 <= low and high <= 1) == (distribution == "uniform")
    assert -1 <= report["min"] and report["max"] <= 1
    assert report["serve_diff"] < 1e-5 and report["generate_diff"] < 1e-5
    assert not report["gan_tf_loaded"]


def test_export_replaces_an_older_export_only_when_complete(tmp_path, monkeypatch):
    generator = networks.make_generator("mlp", 4, (8, 8, 1))
    path = str(tmp_path / "generator")
    export.export_generator(generator, path)
    before = sorted(os.listdir(path))

    def broken_write(self, filepath, **kwargs):
        raise OSError(28, "No space left on device")

    import keras

    # ExportArchive() returns a backend subclass; make its write fail as a full disk would.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", broken_write)
    with pytest.raises(OSError, match="No space"):
        export.export_generator(generator, path)
    assert sorted(os.listdir(path)) == before  # the old export is intact
    assert sorted(os.listdir(tmp_path)) == ["generator"]  # no staging folder left
    loaded = export.load_generator(path)
    assert "serve" in loaded.signatures


CONDITIONAL_FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    sys.modules["gan_tf"] = None  # any import of gan_tf now raises ImportError
    import numpy as np
    import tensorflow as tf
    path, expected_path = sys.argv[1], sys.argv[2]
    model = tf.saved_model.load(path)
    expected = np.load(expected_path)
    serve = model.signatures["serve"](z=tf.constant(expected["z"]),
                                      label=tf.constant(expected["labels"]))["images"].numpy()
    generated = model.signatures["generate"](labels=tf.constant(expected["labels"]),
                                             seed=tf.constant(11, tf.int64))
    try:
        model.signatures["generate"](labels=tf.constant([0, 3]), seed=tf.constant(1, tf.int64))
        refused = None
    except tf.errors.InvalidArgumentError as error:
        refused = error.message
    print("RESULT " + json.dumps({
        "signatures": sorted(model.signatures),
        "serve_diff": float(np.abs(serve - expected["serve"]).max()),
        "generate_diff": float(np.abs(generated["images"].numpy()
                                      - expected["generate"]).max()),
        "labels": generated["labels"].numpy().tolist(),
        "refused": refused,
    }))
""")


@pytest.mark.slow
def test_conditional_export_serves_chosen_classes_without_gan_tf(tmp_path):
    import tensorflow as tf

    generator = networks.make_generator("dcgan", 6, (12, 12, 1), filters=4, num_classes=3)
    gan = GAN(generator, networks.make_discriminator("dcgan", (12, 12, 1), filters=4,
                                                     num_classes=3))
    gan.compile()
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 12, 12, 1), "float32"), np.arange(8, dtype="int32") % 3)).batch(4)
    gan.fit(dataset, epochs=1, verbose=0, shuffle=False)
    path = export.export_generator(generator, str(tmp_path / "generator"))
    z = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    labels = np.array([2, 0, 1, 2], "int32")
    np.savez(tmp_path / "expected.npz", z=z, labels=labels,
             serve=generator([tf.constant(z), tf.constant(labels)], training=False),
             generate=gan.generate(4, seed=11, labels=labels))
    result = run_python(["-c", CONDITIONAL_FRESH_PROCESS, path, str(tmp_path / "expected.npz")],
                        cwd=str(tmp_path), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next(line for line in result.stdout.splitlines()
                             if line.startswith("RESULT "))[len("RESULT "):])
    assert {"serve", "generate"} <= set(report["signatures"])
    assert report["serve_diff"] < 1e-5 and report["generate_diff"] < 1e-5
    assert report["labels"] == labels.tolist()
    assert report["refused"] and "[0, 3)" in report["refused"]
    metadata = export.read_metadata(path)
    assert (metadata["num_classes"], metadata["latent_dim"], metadata["image_shape"]) == (
        3, 6, [12, 12, 1])
    assert metadata["signatures"]["generate"] == ["labels", "seed"]


def test_metadata_is_written_and_other_folders_are_refused(tmp_path):
    from gan_tf.errors import UserError

    generator = networks.make_generator("mlp", 4, (8, 8, 1))
    path = export.export_generator(generator, str(tmp_path / "generator"),
                                   metadata={"class_names": ["a", "b"], "dataset": "x"})
    metadata = export.read_metadata(path)
    assert metadata["class_names"] == ["a", "b"] and metadata["num_classes"] is None
    assert metadata["signatures"]["generate"] == ["num_images", "seed"]
    with pytest.raises(UserError, match="not a gan_tf generator export"):
        export.read_metadata(str(tmp_path))


@pytest.mark.parametrize("conditional", [False, True])
def test_the_export_and_its_sampler_follow_uniform_latents(conditional, tmp_path):
    import tensorflow as tf

    from gan_tf import samplers
    from gan_tf.gan import call_generator, sample_latents

    num_classes = 3 if conditional else None
    generator = networks.make_generator("mlp", 6, (8, 8, 1), num_classes=num_classes,
                                        latent_distribution="uniform")
    path = export.export_generator(generator, str(tmp_path / "generator"))
    assert export.read_metadata(path)["latent_distribution"] == "uniform"
    model = export.load_generator(path)
    labels = np.array([0, 2, 1, 1], "int32")
    if conditional:
        generated = model.signatures["generate"](labels=tf.constant(labels),
                                                 seed=tf.constant(7, tf.int64))
    else:
        generated = model.signatures["generate"](num_images=tf.constant(4),
                                                 seed=tf.constant(7, tf.int64))
    expected = sample_latents(4, 6, 7, "uniform")
    np.testing.assert_array_equal(generated["latents"], expected)
    np.testing.assert_allclose(generated["images"], call_generator(
        generator, expected, labels if conditional else None), atol=1e-6)
    sampler = samplers.load_sampler(path)
    assert sampler.latent_distribution == "uniform"
    np.testing.assert_allclose(
        sampler.generate(4, seed=7, labels=labels if conditional else None),
        generated["images"], atol=1e-6)


def test_an_export_from_before_uniform_latents_samples_normal_ones(tmp_path):
    from gan_tf import samplers

    path = export.export_generator(networks.make_generator("mlp", 4, (8, 8, 1)),
                                   str(tmp_path / "generator"))
    metadata_file = os.path.join(path, export.METADATA_FILE)
    with open(metadata_file) as stream:
        metadata = json.load(stream)
    assert metadata.pop("latent_distribution") == "normal"
    with open(metadata_file, "w") as stream:
        json.dump(metadata, stream)
    assert samplers.load_sampler(path).latent_distribution == "normal"
    metadata["latent_distribution"] = "cauchy"
    with open(metadata_file, "w") as stream:
        json.dump(metadata, stream)
    from gan_tf.errors import UserError

    with pytest.raises(UserError, match="does not describe the generator.*latent_distribution"):
        samplers.load_sampler(path)
