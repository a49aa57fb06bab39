"""SavedModel export of a generator that loads with TensorFlow alone (no gan_tf, no Keras).

The SavedModel has two signatures:
- `serve(z)`: latents `(batch, latent_dim)` float32 -> `{"images": (batch, H, W, C)}` in [-1, 1].
- `generate(num_images, seed)`: int32, int64 scalars -> `{"images", "latents"}`; the latents
  are `tf.random.stateless_normal` of the seed (`stateless_uniform` on [-1, 1] for a generator
  with uniform latents), the same as `GAN.generate(num_images, seed)`.

A class-conditional generator's SavedModel has instead:
- `serve(z, label)`: latents and int32 class indices `(batch,)` -> `{"images"}`.
- `generate(labels, seed)`: int32 `(num_images,)` classes, int64 seed -> `{"images", "latents",
  "labels"}`, the same images as `GAN.generate(len(labels), seed, labels=labels)`.
A label outside `[0, num_classes)` fails with InvalidArgumentError naming the range.

Beside the SavedModel files, `gan_tf.json` describes the model (latent size and
distribution, image shape, number of classes, class names and what `metadata` the caller
adds, e.g. the dataset); read
it with `read_metadata(path)`. TensorFlow ignores it.

Load it anywhere with:
```python
model = tf.saved_model.load(path)
images = model.signatures["generate"](num_images=tf.constant(16), seed=tf.constant(0, tf.int64))
sevens = conditional_model.signatures["generate"](labels=tf.fill([16], 7),
                                                  seed=tf.constant(0, tf.int64))
```
"""

import contextlib
import json
import logging
import os
import shutil

import keras
import tensorflow as tf

from gan_tf import names, runs, startup
from gan_tf.config import check_export_request
from gan_tf.errors import UserError
from gan_tf.files import replace_directory, staging_directory
from gan_tf.gan import (call_generator, latent_dim_of, latent_distribution_of, num_classes_of,
                        sample_latents)


METADATA_FILE = runs.EXPORT_METADATA_FILE


def export_generator(generator, path, latent_dim=None, metadata=None):
    """Writes `generator` as a SavedModel at `path`; replaces an older export only on success.

    Args:
        generator: a `keras.Model` from `(batch, latent_dim)` latents to images, or a
            class-conditional gan_tf generator (with `num_classes`) from `[latents, labels]`.
        path: the SavedModel folder to write.
        latent_dim: the generator's input size. Defaults to the size of its `keras.Input`.
        metadata: a JSON-serializable dict stored in `gan_tf.json` beside the model (e.g.
            `{"class_names": [...], "dataset": "mnist"}`).

    Returns:
        `path`.
    """
    latent_dim = latent_dim_of(generator, latent_dim)
    distribution = latent_distribution_of(generator)
    num_classes = num_classes_of(generator)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    if num_classes:
        serve, generate = _conditional_endpoints(generator, latent_dim, num_classes,
                                                 distribution)
    else:
        serve, generate = _endpoints(generator, latent_dim, distribution)
    archive.add_endpoint("serve", serve)
    archive.add_endpoint("generate", generate)
    image_shape = [int(d) for d in generator.outputs[0].shape[1:]] if getattr(
        generator, "outputs", None) else None
    description = {
        "format": "savedmodel",
        "latent_dim": int(latent_dim),
        "latent_distribution": distribution,
        "image_shape": image_shape,
        "num_classes": num_classes,
        "signatures": {"serve": ["z", "label"] if num_classes else ["z"],
                       "generate": ["labels", "seed"] if num_classes else ["num_images", "seed"]},
        **tensors(latent_dim, distribution, image_shape, num_classes),
    }
    description.update(metadata or {})

    path = os.path.abspath(path)
    with staging_directory(path, "export") as staging, _quiet_tensorflow_logs():
        archive.write_out(staging, verbose=False)
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as stream:
            json.dump(description, stream, indent=2)
        # A kill -9 between its two renames leaves no `path`: training exports again.
        replace_directory(staging, path)
    return path


def _endpoints(generator, latent_dim, distribution):
    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
    def serve(z):
        return {"images": tf.cast(generator(z, training=False), tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_images"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def generate(num_images, seed):
        latents = sample_latents(num_images, latent_dim, seed, distribution)
        return {"images": tf.cast(generator(latents, training=False), tf.float32),
                "latents": latents}

    return serve, generate


def _conditional_endpoints(generator, latent_dim, num_classes, distribution):
    def checked(labels):
        message = f"labels must be class indices in [0, {num_classes})"
        with tf.control_dependencies([
                tf.debugging.assert_non_negative(labels, message=message),
                tf.debugging.assert_less(labels, num_classes, message=message)]):
            return tf.identity(labels)

    @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z"),
                                  tf.TensorSpec([None], tf.int32, name="label")])
    def serve(z, label):
        images = generator([z, checked(label)], training=False)
        return {"images": tf.cast(images, tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="labels"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def generate(labels, seed):
        labels = checked(labels)
        latents = sample_latents(tf.shape(labels)[0], latent_dim, seed, distribution)
        images = call_generator(generator, latents, labels)
        return {"images": tf.cast(images, tf.float32), "latents": latents, "labels": labels}

    return serve, generate


def tensors(latent_dim, distribution, image_shape, num_classes):
    """`{"inputs": [...], "outputs": [...]}`: the `serve` call's tensors, for gan_tf.json.

    Each has a name, dtype, shape (-1: any batch size) and meaning, so a mobile or web
    developer can call any export without reading Python.
    """
    latents = ("standard normal" if distribution == "normal"
               else "uniform on [-1, 1]")
    inputs = [{"name": "z", "dtype": "float32", "shape": [-1, int(latent_dim)],
               "meaning": f"latent vectors, one row per image, drawn {latents}"}]
    if num_classes:
        inputs.append({"name": "label", "dtype": "int32", "shape": [-1],
                       "meaning": f"class index of each image, in [0, {num_classes})"})
    outputs = [{"name": "images", "dtype": "float32",
                "shape": [-1] + [int(d) for d in image_shape or []],
                "meaning": "images in [-1, 1], channels last; pixel = round((x + 1) * 127.5)"}]
    return {"inputs": inputs, "outputs": outputs}


@contextlib.contextmanager
def _quiet_tensorflow_logs():
    """TensorFlow's Python INFO lines ("Assets written to: ...") off for the block: the
    export says where it wrote; in a notebook they would print twice per export."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def read_metadata(path):
    """The `gan_tf.json` description of an exported generator (UserError if it has none)."""
    file = os.path.join(os.fspath(path), METADATA_FILE)
    try:
        with open(file, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is not a gan_tf generator export ({file}: {error}). Pass the "
                        "generator/ folder of a training run.") from None


def load_generator(path):
    """Loads an exported generator; call `.signatures["serve"]` / `["generate"]` on it."""
    return tf.saved_model.load(os.fspath(path))


# === Other runtimes: LiteRT and ONNX ===

FORMATS = names.EXPORT_FORMATS
QUANTIZATIONS = names.EXPORT_QUANTIZATIONS
FILES = {"litert": "generator.tflite", "onnx": "generator.onnx"}
ONNX_OPSET = 17  # ONNX Runtime 1.14 and newer; onnxruntime-web reads it too
CHECK_IMAGES = 32  # fixed latents (and labels) on which each export is compared
SAVEDMODEL_FORMATS = ("savedmodel", "gan_tf generator SavedModel")  # the second: older exports



def export_model(model, output, format="savedmodel", checkpoint="latest",
                 quantization="none"):
    """Exports the generator of `model` to the new folder `output`, checked by its runtime.

    Args:
        model: a training run directory (its `checkpoint`, EMA weights when it keeps them),
            an exported generator folder (a SavedModel with gan_tf.json), or a generator saved
            as a `.keras` file (checked, then loaded in safe mode).
        output: a folder that must not exist yet; written completely or not at all.
        format: "savedmodel" (TensorFlow, TensorFlow Serving), "litert" (LiteRT, formerly
            TensorFlow Lite: Android, iOS, microcontrollers; `generator.tflite`) or "onnx"
            (ONNX Runtime in Python, C++, C#, Java, the browser; `generator.onnx`, opset 17).
        checkpoint: a run's "latest" or "best" checkpoint.
        quantization: LiteRT only: "none" (float32), "dynamic_range" (int8 weights, about a
            quarter of the size) or "float16" (half).

    LiteRT and ONNX exports hold the `serve` call: latents `z` (and class indices `label` for
    a conditional generator) in, `images` out; the caller draws the latents (gan_tf.json says
    from which distribution). Each export is run by its own runtime on the same 32 latents as
    the SavedModel and the largest difference is recorded in gan_tf.json ("check").

    Returns:
        The description written to `output/gan_tf.json`.

    Raises:
        UserError: an unknown format, an output that exists, a model refused by the safety
            checks, a converter that is not installed (nothing is written).
    """
    check_export_request(format, quantization)
    output = os.path.abspath(os.path.expanduser(os.fspath(output)))
    if os.path.lexists(output):
        raise UserError(f"--output={output} already exists; nothing was overwritten. Pass a "
                        "new folder.")
    if format == "onnx":
        _require("tf2onnx", "onnx")
    with staging_directory(output, "export") as staging:
        source = _savedmodel_of(model, checkpoint, os.path.join(staging, "savedmodel"))
        metadata = read_metadata(source)
        if format == "savedmodel":
            target = os.path.join(staging, "out")
            _refuse_links(source)
            shutil.copytree(source, target, symlinks=True)
            description = dict(metadata, format="savedmodel", source=_path(model))
        else:
            target = os.path.join(staging, "out")
            os.makedirs(target)
            path = os.path.join(target, FILES[format])
            with _quiet_tensorflow_logs(), startup.filtered_stderr():
                if format == "litert":
                    _to_litert(source, path, quantization)
                else:
                    _to_onnx(source, path)
            description = {key: value for key, value in metadata.items()
                           if key not in ("signatures", "format")}
            description.update(format=format, file=FILES[format], signature="serve",
                               quantization=quantization, size_bytes=os.path.getsize(path),
                               source=_path(model))
            if format == "onnx":
                description["opset"] = ONNX_OPSET
            with startup.filtered_stderr():
                description["check"] = check_export(source, path, format, metadata)
        with open(os.path.join(target, METADATA_FILE), "w", encoding="utf-8") as stream:
            json.dump(description, stream, indent=2)
        try:
            os.rename(target, output)
        except OSError as error:
            raise UserError(f"Cannot write {output}: {error.strerror or error}. Nothing was "
                            "written; pass a folder you can write to.") from None
    return description


def _path(model):
    return os.path.abspath(os.path.expanduser(os.fspath(model)))


def _refuse_links(folder):
    """UserError if `folder` holds a symbolic link: copying an export must not copy files it
    points to elsewhere (a foreign export could name one of the user's own)."""
    for root, directories, files in os.walk(folder):
        for name in directories + files:
            if os.path.islink(os.path.join(root, name)):
                raise UserError(f"{folder} holds a symbolic link ({os.path.join(root, name)}); "
                                "an export is plain files. Export it again from its run.")


def _require(*modules):
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise UserError(f"--format=onnx needs the converter {module}, which is not "
                            "installed. Install it with: pip install 'gan_tf[onnx]' "
                            "(tf2onnx, onnx, onnxruntime).") from None


def _savedmodel_of(model, checkpoint, scratch):
    """A SavedModel folder of `model`: an export as it is (after the safety check), else a
    new export of the run's or the `.keras` file's generator written to `scratch`."""
    from gan_tf import model_files

    path = os.path.abspath(os.path.expanduser(os.fspath(model)))
    if os.path.isfile(os.path.join(path, runs.CONFIG_FILE)):
        gan, config, epochs = runs.load_run(path, checkpoint)
        _, facts = runs.read_run_config(path)
        metadata = runs.export_metadata(config, facts.get("class_names"),
                                        facts.get("num_classes"), epochs, checkpoint)
        return export_generator(gan.sampling_generator(), scratch, metadata=metadata)
    if os.path.isfile(os.path.join(path, METADATA_FILE)):
        metadata = read_metadata(path)
        if metadata.get("format", "savedmodel") not in SAVEDMODEL_FORMATS:
            raise UserError(f"{path} is a {metadata.get('format')} export; exports are made "
                            "from a SavedModel export, a training run or a .keras file. Pass "
                            "the run or its generator/ folder.")
        model_files.check_saved_model(path)
        return path
    if os.path.isfile(path):
        return export_generator(model_files.load_keras_generator(path), scratch,
                                metadata={"source": path})
    raise UserError(f"--model={model} is not a training run directory (with config.json), an "
                    "exported generator folder (with gan_tf.json) or a .keras file.")


def _to_litert(savedmodel, path, quantization):
    converter = tf.lite.TFLiteConverter.from_saved_model(savedmodel, signature_keys=["serve"])
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # the converter raises its own ConverterError and others
        raise UserError(f"The LiteRT converter refused the generator ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:300]}). Use --format=savedmodel or "
                        "--format=onnx.") from None
    with open(path, "wb") as stream:
        stream.write(flatbuffer)


def _to_onnx(savedmodel, path):
    import tf2onnx

    loaded = tf.saved_model.load(savedmodel)  # kept: the signature needs its variables
    serve = loaded.signatures["serve"]
    # The graph's inputs in gan_tf.json's order: z, then label (for a conditional generator).
    names = [name for name in ("z", "label") if name in serve.structured_input_signature[1]]
    specs = [serve.structured_input_signature[1][name] for name in names]
    specs = [tf.TensorSpec(spec.shape, spec.dtype, name=name) for spec, name in zip(specs, names)]

    @tf.function(input_signature=specs)
    def call(*tensors):
        return serve(**dict(zip(names, tensors)))

    try:
        tf2onnx.convert.from_function(call, input_signature=specs, opset=ONNX_OPSET,
                                      output_path=path)
    except Exception as error:  # tf2onnx raises many kinds
        raise UserError(f"tf2onnx could not convert the generator ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:300]}). Use --format=savedmodel or "
                        "--format=litert.") from None


def check_inputs(metadata, count=CHECK_IMAGES, seed=0):
    """The fixed `{"z": ..., "label": ...}` numpy inputs an export is checked on."""
    import numpy as np

    from gan_tf.gan import class_labels, numpy_latents

    inputs = {"z": numpy_latents(np.random.default_rng(seed),
                                 (count, int(metadata["latent_dim"])),
                                 metadata.get("latent_distribution", "normal"))}
    if metadata.get("num_classes"):
        inputs["label"] = np.asarray(class_labels(count, int(metadata["num_classes"])),
                                     np.int32)
    return inputs


def run_litert(path, inputs):
    """`images` of a LiteRT file on `inputs`, with its interpreter (ai-edge-litert, else
    TensorFlow's own); returns `(images, runtime name)`."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        runtime = "ai-edge-litert"
    except ImportError:
        Interpreter, runtime = tf.lite.Interpreter, "tf.lite"
    interpreter = Interpreter(model_path=path)
    runner = interpreter.get_signature_runner("serve")
    return runner(**inputs)["images"], runtime


def run_onnx(path, inputs):
    """`images` of an ONNX file on `inputs` with ONNX Runtime (None if not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return None, None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(["images"], inputs)[0], f"onnxruntime {onnxruntime.__version__}"


def check_export(savedmodel, path, format, metadata):
    """Runs the export and the SavedModel on `check_inputs`; the differences, for gan_tf.json."""
    import numpy as np

    inputs = check_inputs(metadata)
    loaded = tf.saved_model.load(savedmodel)  # kept: the signature needs its variables
    reference = loaded.signatures["serve"](**{name: tf.constant(value) for name, value in inputs.items()})["images"]
    if format == "litert":
        images, runtime = run_litert(path, inputs)
    else:
        images, runtime = run_onnx(path, inputs)
    if images is None:
        return {"checked": False, "why": "onnxruntime is not installed"}
    difference = np.abs(np.asarray(images, np.float32) - reference.numpy())
    return {"checked": True, "runtime": runtime, "images": len(inputs["z"]),
            "max_abs_difference": float(difference.max()),
            "mean_abs_difference": float(difference.mean()),
            "max_pixel_difference": int(np.abs(
                np.round((np.asarray(images, np.float32) + 1) * 127.5)
                - np.round((reference.numpy() + 1) * 127.5)).max())}
