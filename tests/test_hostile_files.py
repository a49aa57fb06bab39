"""`gan_tf.model_files`: model files gan_tf did not write are refused or loaded in safe mode.

Every hostile fixture is crafted here, in `tmp_path`, with a payload that creates a sentinel
file when it runs. Each refusal test checks the `UserError` and that the sentinel is absent;
`test_payloads_are_live_without_gan_tf_checks` shows that each payload does run when the file
is opened without gan_tf's checks, so the refusals are what keeps the sentinel away.
"""

import json
import os
import re
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_python
from gan_tf import export_lib, generate_lib, model_files, networks
from gan_tf.errors import UserError
from gan_tf.gan import sample_latents

SENTINEL = "sentinel.txt"
_PAYLOAD_TARGET = {}  # where the registered payloads below write; set by the `sentinel` fixture


@keras.saving.register_keras_serializable(package="hostile_test")
def write_sentinel(x):
    """A function another package registered; a config naming it makes Keras call it."""
    with open(_PAYLOAD_TARGET["path"], "w", encoding="utf-8") as stream:
        stream.write("payload ran")
    return x


@keras.saving.register_keras_serializable(package="hostile_test")
class SentinelLayer(keras.layers.Layer):
    """A class another package registered, whose `from_config` has a side effect."""

    @classmethod
    def from_config(cls, config):
        write_sentinel(None)
        return cls(**config)

    def call(self, inputs):
        return inputs


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / SENTINEL
    _PAYLOAD_TARGET["path"] = str(path)
    yield path
    _PAYLOAD_TARGET.clear()


def _write_payload_source(sentinel):
    """Python source of a lambda that creates `sentinel` and returns its input."""
    return f"lambda x: (open({str(sentinel)!r}, 'w').write('payload ran'), x)[1]"


def _save_built(model, path, sentinel):
    """Saves `model`; removes the sentinel that building a payload model may create."""
    model.save(str(path))
    if sentinel.exists():
        sentinel.unlink()
    return str(path)


def _lambda_model(sentinel):
    inputs = keras.Input((2,))
    payload = keras.layers.Lambda(eval(_write_payload_source(sentinel)))(inputs)  # noqa: S307
    return keras.Model(inputs, keras.layers.Reshape((1, 2, 1))(payload))


def _plain_model():
    inputs = keras.Input((2,), name="latents")
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.Activation("tanh", name="tanh")(x)
    return keras.Model(inputs, keras.layers.Reshape((2, 2, 1), name="images")(x))


def _edited_keras_file(source, destination, edit):
    """Copies the .keras zip `source` to `destination` with `edit(config)` applied."""
    with zipfile.ZipFile(source) as reader, zipfile.ZipFile(destination, "w") as writer:
        for item in reader.infolist():
            data = reader.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode("utf-8")
            writer.writestr(item, data)
    return str(destination)


def _layer(config, name):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


def _os_system_layer(config):
    """The Dense layer becomes `os.system` with a command creating the sentinel."""
    layer = _layer(config, "dense")
    layer.update(module="os", class_name="system", registered_name=None)
    layer["config"] = {"command": f"touch {_PAYLOAD_TARGET['path']}"}


def _registered_function_activation(config):
    _layer(config, "tanh")["config"]["activation"] = {
        "module": "builtins", "class_name": "function",
        "config": "hostile_test>write_sentinel", "registered_name": "function"}


def _registered_class_layer(config):
    layer = _layer(config, "tanh")
    layer.update(module="test_hostile_files", class_name="SentinelLayer",
                 registered_name="hostile_test>SentinelLayer")
    layer["config"] = {"name": "tanh"}


def _forged_gan_tf_name(config):
    layer = _layer(config, "tanh")
    layer.update(module="gan_tf.networks", class_name="SentinelLayer",
                 registered_name="gan_tf>SentinelLayer")
    layer["config"] = {"name": "tanh"}


def _builtins_exec_function(config):
    _layer(config, "tanh")["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "exec",
        "registered_name": "function"}


def _nested_lambda_initializer(config):
    _layer(config, "dense")["config"]["kernel_initializer"] = {
        "class_name": "__lambda__", "config": {"code": "", "defaults": None, "closure": None}}


EDITS = {
    "os_system_layer": (_os_system_layer, "'system' from module 'os', outside Keras and gan_tf"),
    "registered_function": (_registered_function_activation,
                            "function 'hostile_test>write_sentinel'"),
    "registered_class": (_registered_class_layer, "module 'test_hostile_files'"),
    "forged_gan_tf_name": (_forged_gan_tf_name, "'gan_tf>SentinelLayer', which gan_tf does "
                           "not register"),
    "builtins_exec": (_builtins_exec_function, "function 'exec' from module 'builtins'"),
    "nested_lambda": (_nested_lambda_initializer, "a Python lambda"),
}


@pytest.fixture
def plain_keras_file(tmp_path):
    return _save_built(_plain_model(), tmp_path / "plain.keras", tmp_path / SENTINEL)


def _tfsm_payload_savedmodel(directory, sentinel):
    """A SavedModel whose `serve` writes the sentinel (tf.io.write_file) and returns z."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="z")])
    def serve(z):
        with tf.control_dependencies([tf.io.write_file(str(sentinel), "payload ran")]):
            return {"images": tf.reshape(tf.identity(z), [-1, 1, 2, 1])}

    module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serve": serve})
    return str(directory)


def _tfsm_keras_file(tmp_path, sentinel):
    saved_model = _tfsm_payload_savedmodel(tmp_path / "elsewhere", sentinel)
    layer = keras.layers.TFSMLayer(saved_model, call_endpoint="serve")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, layer(inputs)["images"])
    return _save_built(model, tmp_path / "tfsm.keras", sentinel)


def _refused(path, match, sentinel):
    with pytest.raises(UserError, match=match):
        generate_lib.load_sampler(path)
    assert not sentinel.exists()


# === .keras files ===

def test_keras_file_with_a_lambda_layer_is_refused(tmp_path, sentinel):
    path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.keras", sentinel)
    _refused(path, r"Refusing to load .*lambda\.keras: .*a Lambda layer, which runs Python "
             r"code.*Expected a \.keras generator made only of Keras layers", sentinel)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_keras_config_naming_code_outside_keras_and_gan_tf_is_refused(edit, plain_keras_file,
                                                                       tmp_path, sentinel):
    change, message = EDITS[edit]
    path = _edited_keras_file(plain_keras_file, tmp_path / f"{edit}.keras", change)
    _refused(path, message, sentinel)


def test_keras_file_with_a_tfsm_layer_pointing_elsewhere_is_refused(tmp_path, sentinel):
    path = _tfsm_keras_file(tmp_path, sentinel)
    _refused(path, "a TFSMLayer layer, which loads and runs a SavedModel from another path",
             sentinel)


def test_legacy_h5_full_model_is_refused_whatever_its_name(tmp_path, sentinel):
    path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.h5", sentinel)
    for name in ("lambda.h5", "lambda.hdf5", "renamed.keras", "model.bin"):
        if name != "lambda.h5":
            shutil.copy(path, tmp_path / name)
        _refused(str(tmp_path / name), r"legacy HDF5 \(\.h5/\.hdf5\) Keras model.*marshalled "
                 r"Python code.*convert it.*save\('g\.keras'\)", sentinel)


def test_safe_mode_holds_after_enable_unsafe_deserialization(tmp_path, sentinel):
    """Keras 3.15.1 lets the global flag override load_model(safe_mode=True); gan_tf does not.

    `_load_safely` is called directly (past the config scan) to test the second defence.
    """
    from keras.src.backend.common import global_state

    path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.keras", sentinel)
    keras.config.enable_unsafe_deserialization()
    try:
        with pytest.raises(UserError, match="could not load it in safe mode.*Lambda"):
            model_files._load_safely(path)
        assert not sentinel.exists()
        assert global_state.get_global_attribute("safe_mode_saving") is False  # restored
    finally:
        global_state.set_global_attribute("safe_mode_saving", None)


@pytest.mark.slow
def test_cli_refuses_a_hostile_keras_file_in_one_line(tmp_path, sentinel):
    path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.keras", sentinel)
    output = tmp_path / "out"
    result = run_python(["-m", "gan_tf.generate", f"--model={path}", f"--output={output}"],
                        cwd=str(tmp_path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: Refusing to load {path}: ") and "Lambda" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not sentinel.exists() and not output.exists()


@pytest.mark.parametrize("fixture", ["lambda_keras", "tfsm_keras", "lambda_h5",
                                     "registered_function", "registered_class"])
def test_payloads_are_live_without_gan_tf_checks(fixture, plain_keras_file, tmp_path,
                                                 sentinel):
    """Control: Keras alone (safe mode off, or on for registered objects) runs each payload."""
    if fixture == "lambda_keras":
        path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.keras", sentinel)
    elif fixture == "lambda_h5":
        path = _save_built(_lambda_model(sentinel), tmp_path / "lambda.h5", sentinel)
    elif fixture == "tfsm_keras":
        path = _tfsm_keras_file(tmp_path, sentinel)
    else:
        path = _edited_keras_file(plain_keras_file, tmp_path / f"{fixture}.keras",
                                  EDITS[fixture][0])
    assert not sentinel.exists()
    safe_mode = fixture.startswith("registered")  # Keras's safe mode does not stop these
    model = keras.saving.load_model(path, safe_mode=safe_mode, compile=False)
    model(np.zeros((1, 2), np.float32))
    assert sentinel.read_text() == "payload ran"


@pytest.mark.parametrize("config, problem", [
    ({"class_name": "Lambda", "config": {}}, "Lambda layer"),
    ({"module": "keras.layers", "class_name": "TFSMLayer", "config": {}}, "TFSMLayer"),
    ({"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {}}, "unpickles"),
    ({"module": "keras.layers", "class_name": "StringLookup", "config": {}}, "vocabulary"),
    ({"module": "keras.utils", "class_name": "get_file", "config": {}}, "no model layers"),
    ({"module": "keras_hub.models", "class_name": "X", "config": {}}, "outside Keras"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": "other>Dense",
      "config": {}}, "registered as 'other>Dense'"),
    ({"class_name": "evil>Layer", "config": {}}, "registered as 'evil>Layer'"),
    ({"module": "keras.activations", "class_name": "function", "config": "relu"},
     "function 'relu' from module 'keras.activations'"),
    ({"class_name": 3, "config": {}}, "not a name"),
    ([{"a": [{"b": {"class_name": "__lambda__", "config": {}}}]}], r"config\[0\]\.a\[0\]\.b: "
     "a Python lambda"),
])
def test_unsafe_objects_names_each_problem_and_where(config, problem):
    problems = model_files.unsafe_objects(config)
    assert len(problems) == 1 and re.search(problem, problems[0]), problems


def test_unsafe_objects_accepts_keras_layers_gan_tf_networks_and_builtin_activations(tmp_path):
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, activation=keras.ops.relu, kernel_initializer="he_normal")(inputs)
    x = keras.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.Activation("tanh")(x))
    model.compile(optimizer="adam", loss="mse")
    model.save(str(tmp_path / "plain.keras"))
    assert model_files.unsafe_objects(model_files.read_keras_config(tmp_path / "plain.keras")) \
        == []
    generator = networks.make_generator("dcgan", 4, (12, 12, 1), filters=2, num_classes=3)
    generator.save(str(tmp_path / "g.keras"))
    assert model_files.unsafe_objects(model_files.read_keras_config(tmp_path / "g.keras")) == []


@pytest.mark.parametrize("architecture, num_classes, image_shape", [
    ("mlp", None, (4, 4, 1)), ("dcgan", 3, (12, 12, 1))])
def test_a_gan_tf_generator_saved_as_keras_samples_like_the_model_in_memory(
        architecture, num_classes, image_shape, tmp_path):
    generator = networks.make_generator(architecture, 6, image_shape, filters=2,
                                        num_classes=num_classes)
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    sampler = generate_lib.load_sampler(path)
    assert (sampler.latent_dim, sampler.image_shape, sampler.num_classes) == (
        6, image_shape, num_classes)
    assert sampler.description["kind"] == "keras"
    labels = np.array([2, 0, 1, 2, 1], np.int32) if num_classes else None
    latents = sample_latents(5, 6, 9)
    expected = generator([latents, tf.constant(labels)] if num_classes else latents,
                         training=False)
    np.testing.assert_array_equal(sampler.generate(5, seed=9, labels=labels), expected)
    manifest = generate_lib.write_dataset(sampler, str(tmp_path / "out"), 5, "npz", seed=9,
                                          labels=None if num_classes is None else [2, 0, 1])
    assert manifest["model"]["kind"] == "keras"
    with pytest.raises(UserError, match="is a .keras file: it has no best checkpoint"):
        generate_lib.load_sampler(path, "best")


def test_a_keras_model_that_is_not_a_generator_is_refused(tmp_path):
    discriminator = networks.make_discriminator("mlp", (4, 4, 1))
    discriminator.save(str(tmp_path / "d.keras"))
    with pytest.raises(UserError, match="is not a generator gan_tf can sample.*"
                       r"gan\.generator\.save"):
        generate_lib.load_sampler(str(tmp_path / "d.keras"))


def test_other_files_are_refused_with_what_was_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="is a file, not a .keras model"):
        generate_lib.load_sampler(str(tmp_path / "notes.txt"))
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(UserError, match=r"its name does not end in \.keras"):
        model_files.load_keras_generator(tmp_path / "archive.zip")
    (tmp_path / "broken.keras").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError, match="not a readable .keras archive"):
        generate_lib.load_sampler(str(tmp_path / "broken.keras"))
    with zipfile.ZipFile(tmp_path / "escape.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("../outside.txt", "x")
    with pytest.raises(UserError, match="members outside it"):
        generate_lib.load_sampler(str(tmp_path / "escape.keras"))


# === SavedModel exports ===

def _forged_export(directory, sentinel, how):
    """A SavedModel with a forged gan_tf.json whose `serve` hides a payload (`how`)."""
    module = tf.Module()

    @tf.function
    def nested(z):
        with tf.control_dependencies([tf.io.write_file(str(sentinel), "payload ran")]):
            return tf.identity(z)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="z")])
    def serve(z):
        if how == "write_file":
            with tf.control_dependencies([tf.io.write_file(str(sentinel), "payload ran")]):
                z = tf.identity(z)
        elif how == "nested_write_file":
            z = nested(z)
        elif how == "save_v2":
            with tf.control_dependencies([tf.raw_ops.SaveV2(
                    prefix=str(sentinel), tensor_names=["z"], shape_and_slices=[""],
                    tensors=[z])]):
                z = tf.identity(z)
        elif how == "read_file":
            z = z + tf.cast(tf.strings.length(tf.io.read_file(str(sentinel))), tf.float32)
        return {"images": tf.reshape(z, [-1, 1, 2, 1])}

    module.serve = serve
    tf.saved_model.save(module, str(directory), signatures={"serve": serve})
    with open(os.path.join(directory, export_lib.METADATA_FILE), "w", encoding="utf-8") as stream:
        json.dump({"latent_dim": 2, "image_shape": [1, 2, 1], "num_classes": None}, stream)
    return str(directory)


@pytest.mark.parametrize("how, op", [("write_file", "WriteFile"),
                                     ("nested_write_file", "WriteFile"),
                                     ("save_v2", "SaveV2"), ("read_file", "ReadFile")])
def test_forged_export_whose_graph_touches_files_is_refused(how, op, tmp_path, sentinel):
    path = _forged_export(tmp_path / "generator", sentinel, how)
    _refused(path, f"graph holds ops that touch files or run Python \\({op} in", sentinel)
    if how.endswith("write_file"):  # control: TensorFlow alone runs the payload
        tf.saved_model.load(path).signatures["serve"](z=tf.zeros([1, 2]))
        assert sentinel.exists()


def test_gan_tf_exports_pass_the_scan(tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    for architecture, num_classes in (("mlp", None), ("dcgan", 3)):
        generator = networks.make_generator(architecture, 4, (12, 12, 1), filters=2,
                                            num_classes=num_classes)
        path = export_lib.export_generator(generator, str(tmp_path / architecture))
        model_files.check_saved_model(path)
        with open(os.path.join(path, "saved_model.pb"), "rb") as stream:
            saved_model = saved_model_pb2.SavedModel.FromString(stream.read())
        ops = {node.op for function in saved_model.meta_graphs[0].graph_def.library.function
               for node in function.node_def}
        assert model_files.SAVER_OPS <= ops  # they are there, in the saver functions only
    (tmp_path / "mlp" / "saved_model.pbtxt").write_text("")
    with pytest.raises(UserError, match="saved_model.pbtxt"):
        model_files.check_saved_model(str(tmp_path / "mlp"))


def test_export_to_another_format_refuses_a_forged_export_before_running_it(tmp_path,
                                                                           sentinel):
    path = _forged_export(tmp_path / "generator", sentinel, "write_file")
    for format in ("litert", "onnx", "savedmodel"):
        with pytest.raises(UserError, match="graph holds ops that touch files"):
            export_lib.export_model(path, tmp_path / format, format=format)
        assert not (tmp_path / format).exists()
    assert not sentinel.exists()
