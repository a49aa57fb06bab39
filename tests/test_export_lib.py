"""The exported generator loads in a fresh process that cannot import gan_tf."""

import json
import os
import textwrap

import numpy as np
import pytest

from conftest import run_python
from gan_tf import export_lib, networks
from gan_tf.gan import GAN

# The fresh process: it can never import gan_tf, and imports TensorFlow once (seconds) for
# every test of this module that loads an export in it. Each request (a JSON line: one of the
# scripts below, an export folder, its expected.npz) runs the script with `path` and
# `expected_path` set and answers one line, "RESULT " and the script's `report` as JSON.
FRESH_PROCESS = textwrap.dedent("""
    import json, sys, traceback
    sys.modules["gan_tf"] = None  # any import of gan_tf now raises ImportError
    import numpy as np
    import tensorflow as tf
    for line in sys.stdin:
        script, path, expected_path = json.loads(line)
        namespace = dict(json=json, sys=sys, np=np, tf=tf, path=path,
                         expected_path=expected_path)
        try:
            exec(script, namespace)
            report = namespace["report"]
        except BaseException:
            report = {"error": traceback.format_exc()}
        print("RESULT " + json.dumps(report), flush=True)
""")

LOAD_EXPORT = textwrap.dedent("""
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
    report = {
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
    }
""")


class FreshProcess:
    """The running FRESH_PROCESS: `report(script, path, tmp_path)` asks it for one report."""

    def __init__(self, folder):
        import subprocess
        import sys

        self.stderr_path = folder / "stderr.txt"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", FRESH_PROCESS], cwd=str(folder), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1"))
        self.pending = b""

    def report(self, script, path, tmp_path, seconds=180):
        """Runs `script` on the export at `path` and `tmp_path/expected.npz`; its report."""
        import select
        import time

        request = json.dumps([script, str(path), str(tmp_path / "expected.npz")]) + "\n"
        self.process.stdin.write(request.encode())
        self.process.stdin.flush()
        deadline = time.monotonic() + seconds
        output = self.process.stdout.fileno()
        while True:
            line, newline, rest = self.pending.partition(b"\n")
            if newline:
                self.pending = rest
                if line.startswith(b"RESULT "):
                    break
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([output], [], [], remaining)[0]:
                self.process.kill()
                pytest.fail(f"the fresh process gave no report in {seconds} s")
            chunk = os.read(output, 1 << 16)
            if not chunk:
                self.process.wait(timeout=60)
                pytest.fail(f"the fresh process exited ({self.process.returncode}):\n"
                            + self.stderr_path.read_text()[-3000:])
            self.pending += chunk
        report = json.loads(line[len(b"RESULT "):])
        assert "error" not in report, report.get("error")
        return report

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """One process for every export this module loads where gan_tf cannot be imported."""
    process = FreshProcess(tmp_path_factory.mktemp("fresh_process"))
    yield process
    process.close()


@pytest.mark.parametrize("architecture, image_shape, distribution", [
    ("dcgan", (12, 12, 3), "normal"), ("mlp", (28, 28, 1), "normal"),
    ("mlp", (28, 28, 1), "uniform"), ("resnet", (12, 12, 3), "uniform")])
@pytest.mark.slow
def test_export_loads_without_gan_tf_and_matches(architecture, image_shape, distribution,
                                                 tmp_path, fresh_process):
    generator = networks.make_generator(architecture, 6, image_shape, filters=4,
                                        latent_distribution=distribution)
    gan = GAN(generator, networks.make_discriminator(architecture, image_shape, filters=4))
    gan.compile()
    gan.fit(np.zeros((8,) + image_shape, "float32"), epochs=1, batch_size=4, verbose=0)
    path = export_lib.export_generator(generator, str(tmp_path / "generator"))
    z = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    np.savez(tmp_path / "expected.npz", z=z, serve=generator(z, training=False),
             generate=gan.generate(5, seed=11))
    report = fresh_process.report(LOAD_EXPORT, path, tmp_path)
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
    export_lib.export_generator(generator, path)
    before = sorted(os.listdir(path))

    def broken_write(self, filepath, **kwargs):
        raise OSError(28, "No space left on device")

    import keras

    # ExportArchive() returns a backend subclass; make its write fail as a full disk would.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", broken_write)
    with pytest.raises(OSError, match="No space"):
        export_lib.export_generator(generator, path)
    assert sorted(os.listdir(path)) == before  # the old export is intact
    assert sorted(os.listdir(tmp_path)) == ["generator"]  # no staging folder left
    loaded = export_lib.load_generator(path)
    assert "serve" in loaded.signatures


LOAD_CONDITIONAL_EXPORT = textwrap.dedent("""
    try:
        import gan_tf
        raise SystemExit("gan_tf was importable")
    except ImportError:
        pass
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
    report = {
        "signatures": sorted(model.signatures),
        "serve_diff": float(np.abs(serve - expected["serve"]).max()),
        "generate_diff": float(np.abs(generated["images"].numpy()
                                      - expected["generate"]).max()),
        "labels": generated["labels"].numpy().tolist(),
        "refused": refused,
    }
""")


@pytest.mark.slow
def test_conditional_export_serves_chosen_classes_without_gan_tf(tmp_path, fresh_process):
    import tensorflow as tf

    generator = networks.make_generator("dcgan", 6, (12, 12, 1), filters=4, num_classes=3)
    gan = GAN(generator, networks.make_discriminator("dcgan", (12, 12, 1), filters=4,
                                                     num_classes=3))
    gan.compile()
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((8, 12, 12, 1), "float32"), np.arange(8, dtype="int32") % 3)).batch(4)
    gan.fit(dataset, epochs=1, verbose=0, shuffle=False)
    path = export_lib.export_generator(generator, str(tmp_path / "generator"))
    z = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    labels = np.array([2, 0, 1, 2], "int32")
    np.savez(tmp_path / "expected.npz", z=z, labels=labels,
             serve=generator([tf.constant(z), tf.constant(labels)], training=False),
             generate=gan.generate(4, seed=11, labels=labels))
    report = fresh_process.report(LOAD_CONDITIONAL_EXPORT, path, tmp_path)
    assert {"serve", "generate"} <= set(report["signatures"])
    assert report["serve_diff"] < 1e-5 and report["generate_diff"] < 1e-5
    assert report["labels"] == labels.tolist()
    assert report["refused"] and "[0, 3)" in report["refused"]
    metadata = export_lib.read_metadata(path)
    assert (metadata["num_classes"], metadata["latent_dim"], metadata["image_shape"]) == (
        3, 6, [12, 12, 1])
    assert metadata["signatures"]["generate"] == ["labels", "seed"]


def test_metadata_is_written_and_other_folders_are_refused(tmp_path):
    from gan_tf.errors import UserError

    generator = networks.make_generator("mlp", 4, (8, 8, 1))
    path = export_lib.export_generator(generator, str(tmp_path / "generator"),
                                   metadata={"class_names": ["a", "b"], "dataset": "x"})
    metadata = export_lib.read_metadata(path)
    assert metadata["class_names"] == ["a", "b"] and metadata["num_classes"] is None
    assert metadata["signatures"]["generate"] == ["num_images", "seed"]
    with pytest.raises(UserError, match="not a gan_tf generator export"):
        export_lib.read_metadata(str(tmp_path))


@pytest.mark.parametrize("conditional", [False, True])
def test_the_export_and_its_sampler_follow_uniform_latents(conditional, tmp_path):
    import tensorflow as tf

    from gan_tf import samplers
    from gan_tf.gan import call_generator, sample_latents

    num_classes = 3 if conditional else None
    generator = networks.make_generator("mlp", 6, (8, 8, 1), num_classes=num_classes,
                                        latent_distribution="uniform")
    path = export_lib.export_generator(generator, str(tmp_path / "generator"))
    assert export_lib.read_metadata(path)["latent_distribution"] == "uniform"
    model = export_lib.load_generator(path)
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

    path = export_lib.export_generator(networks.make_generator("mlp", 4, (8, 8, 1)),
                                   str(tmp_path / "generator"))
    metadata_file = os.path.join(path, export_lib.METADATA_FILE)
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


# === LiteRT and ONNX exports, run by their own runtimes ===

# Run in a fresh process where gan_tf cannot be imported (nor TensorFlow for ONNX: a
# non-TensorFlow service has neither): each runtime's images on the inputs of inputs.npz.
RUNTIME_PROCESS = textwrap.dedent("""
    import sys
    sys.modules["gan_tf"] = None  # any import of gan_tf now raises ImportError
    import numpy as np
    try:
        import gan_tf
        raise SystemExit("gan_tf was importable")
    except ImportError:
        pass
    folder, kind, inputs_path, output_path = sys.argv[1:5]
    inputs = dict(np.load(inputs_path))
    if kind == "litert":
        sys.modules["tensorflow"] = None  # the LiteRT interpreter alone, as on a phone
        from ai_edge_litert.interpreter import Interpreter
        runner = Interpreter(model_path=folder + "/generator.tflite").get_signature_runner("serve")
        images = runner(**inputs)["images"]
    else:
        sys.modules["tensorflow"] = None
        import onnxruntime
        session = onnxruntime.InferenceSession(folder + "/generator.onnx",
                                               providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == list(inputs), session.get_inputs()
        images = session.run(["images"], inputs)[0]
    np.save(output_path, images)
""")
# Float32 exports equal the SavedModel to float round-off; quantized ones within these.
TOLERANCE = {"none": 1e-5, "float16": 2e-2, "dynamic_range": 0.15}


@pytest.fixture(scope="module")
def exportable_runs(tmp_path_factory):
    """Tiny 1-epoch runs: the MLP, the DCGAN, and a conditional DCGAN."""
    from conftest import tiny_config
    from gan_tf import train_lib

    made = {}
    for name, overrides in (("mlp", {}), ("dcgan", dict(architecture="dcgan", dcgan_filters=8)),
                            ("conditional_dcgan", dict(architecture="dcgan", dcgan_filters=8,
                                                       conditional=True))):
        config = tiny_config(tmp_path_factory.mktemp(name), epochs=1, max_examples=128,
                             **overrides)
        train_lib.train(config, verbose=0)
        made[name] = config.output_dir
    return made


def _savedmodel_images(run_dir, inputs):
    import tensorflow as tf

    model = tf.saved_model.load(os.path.join(run_dir, "generator"))
    return model.signatures["serve"](**{k: tf.constant(v) for k, v in inputs.items()})[
        "images"].numpy()


@pytest.mark.slow
@pytest.mark.parametrize("run", ["mlp", "dcgan", "conditional_dcgan"])
@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_exports_match_the_savedmodel_in_their_own_runtime(exportable_runs, run, format,
                                                          tmp_path):
    run_dir = exportable_runs[run]
    output = tmp_path / format
    description = export_lib.export_model(run_dir, output, format=format)
    inputs = export_lib.check_inputs(description, count=7, seed=5)
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = tmp_path / "runtime.py"
    script.write_text(RUNTIME_PROCESS)
    result = run_python([str(script), str(output), format, str(tmp_path / "inputs.npz"),
                         str(tmp_path / "images.npy")])
    assert result.returncode == 0, result.stderr[-3000:]
    images = np.load(tmp_path / "images.npy")
    expected = _savedmodel_images(run_dir, inputs)
    assert images.shape == expected.shape == (7, 28, 28, 1)
    np.testing.assert_allclose(images, expected, atol=TOLERANCE["none"])
    # gan_tf.json says how to call it, and what its own check found.
    with open(output / "gan_tf.json", encoding="utf-8") as stream:
        metadata = json.load(stream)
    assert metadata["format"] == format and metadata["file"] == export_lib.FILES[format]
    assert [t["name"] for t in metadata["inputs"]] == (
        ["z", "label"] if run.startswith("conditional") else ["z"])
    assert metadata["outputs"][0] == {"name": "images", "dtype": "float32",
                                      "shape": [-1, 28, 28, 1], "meaning": metadata[
                                          "outputs"][0]["meaning"]}
    assert metadata["check"]["checked"] and metadata["check"]["max_abs_difference"] < 1e-5
    assert sorted(os.listdir(output)) == sorted([export_lib.FILES[format], "gan_tf.json"])


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["float16", "dynamic_range"])
def test_quantized_litert_exports_are_smaller_and_close(exportable_runs, quantization,
                                                        tmp_path):
    run_dir = exportable_runs["dcgan"]
    full = export_lib.export_model(run_dir, tmp_path / "full", format="litert")
    small = export_lib.export_model(run_dir, tmp_path / "small", format="litert",
                                    quantization=quantization)
    ratio = small["size_bytes"] / full["size_bytes"]
    assert ratio < (0.6 if quantization == "float16" else 0.35), ratio
    assert small["quantization"] == quantization
    assert 0 < small["check"]["max_abs_difference"] < TOLERANCE[quantization]
    inputs = export_lib.check_inputs(small, count=4, seed=9)
    images, _ = export_lib.run_litert(str(tmp_path / "small" / "generator.tflite"), inputs)
    np.testing.assert_allclose(images, _savedmodel_images(run_dir, inputs),
                               atol=TOLERANCE[quantization])


@pytest.mark.slow
def test_an_export_of_an_export_and_of_a_keras_file_carry_the_same_generator(
        exportable_runs, tmp_path):
    import keras

    run_dir = exportable_runs["mlp"]
    from_export = export_lib.export_model(os.path.join(run_dir, "generator"),
                                          tmp_path / "again", format="savedmodel")
    assert from_export["format"] == "savedmodel"
    inputs = export_lib.check_inputs(from_export, count=3)
    again = export_lib.load_generator(tmp_path / "again")
    np.testing.assert_allclose(again.signatures["serve"](z=inputs["z"])["images"].numpy(),
                               _savedmodel_images(run_dir, inputs), atol=1e-6)
    generator = networks.MLPGenerator(latent_dim=8, image_shape=(6, 6, 1))
    generator.save(tmp_path / "g.keras")
    description = export_lib.export_model(tmp_path / "g.keras", tmp_path / "from_keras",
                                          format="savedmodel")
    z = np.zeros((2, 8), np.float32)
    np.testing.assert_allclose(
        export_lib.load_generator(tmp_path / "from_keras").signatures["serve"](z=z)[
            "images"].numpy(), keras.ops.convert_to_numpy(generator(z)), atol=1e-6)
    assert description["latent_dim"] == 8


@pytest.mark.parametrize("kwargs, message", [
    (dict(format="tflite"), "Received: format='tflite'"),
    (dict(format="onnx", quantization="float16"), "Quantized variants are a LiteRT option"),
    (dict(format="litert", quantization="int4"), "Received: quantization='int4'"),
])
def test_bad_export_requests_are_refused_and_write_nothing(exportable_runs, tmp_path, kwargs,
                                                           message):
    with pytest.raises(export_lib.UserError, match=message):
        export_lib.export_model(exportable_runs["mlp"], tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_an_existing_output_is_never_overwritten(exportable_runs, tmp_path):
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(export_lib.UserError, match="already exists; nothing was overwritten"):
        export_lib.export_model(exportable_runs["mlp"], existing, format="onnx")
    assert os.listdir(existing) == ["keep.txt"]


@pytest.mark.slow
def test_a_litert_export_is_not_a_model_to_sample_or_export_from(exportable_runs, tmp_path):
    from gan_tf import samplers

    export_lib.export_model(exportable_runs["mlp"], tmp_path / "lite", format="litert")
    with pytest.raises(export_lib.UserError, match="is a litert export"):
        export_lib.export_model(tmp_path / "lite", tmp_path / "again", format="onnx")
    with pytest.raises(export_lib.UserError, match="is a litert export"):
        samplers.load_sampler(str(tmp_path / "lite"))


@pytest.mark.slow
def test_the_export_cli(exportable_runs, tmp_path):
    run_dir = exportable_runs["conditional_dcgan"]
    result = run_python(["-m", "gan_tf.export", f"--model={run_dir}", "--format=onnx",
                         f"--output={tmp_path / 'onnx'}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Checked with onnxruntime" in result.stdout and "label int32 [-1]" in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up or converter noise
    for flags, message in [(["--format=tflite"], "format='tflite'"),
                           ([], "Pass --model=RUN_OR_EXPORT and --output=NEW_FOLDER"),
                           ([f"--output={tmp_path / 'onnx'}"], "already exists")]:
        arguments = [f"--model={run_dir}"] + flags
        if not any(flag.startswith("--output") for flag in flags) and flags:
            arguments.append(f"--output={tmp_path / 'new'}")
        result = run_python(["-m", "gan_tf.export"] + arguments)
        assert result.returncode == 2 and message in result.stderr, result.stderr
