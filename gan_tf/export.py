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

import json
import os
import shutil

import keras
import tensorflow as tf

from gan_tf import runs
from gan_tf.errors import UserError
from gan_tf.files import make_temp_dir, staging_directory
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
    description = {
        "format": "gan_tf generator SavedModel",
        "latent_dim": int(latent_dim),
        "latent_distribution": distribution,
        "image_shape": [int(d) for d in generator.outputs[0].shape[1:]] if getattr(
            generator, "outputs", None) else None,
        "num_classes": num_classes,
        "signatures": {"serve": ["z", "label"] if num_classes else ["z"],
                       "generate": ["labels", "seed"] if num_classes else ["num_images", "seed"]},
    }
    description.update(metadata or {})

    path = os.path.abspath(path)
    with staging_directory(path, "export") as staging:
        archive.write_out(staging, verbose=False)
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as stream:
            json.dump(description, stream, indent=2)
        if os.path.exists(path):
            retired = make_temp_dir(os.path.dirname(path), ".export_old_")
            os.rename(path, os.path.join(retired, "old"))
            os.rename(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, path)
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
