"""gan_tf: generative adversarial networks on TensorFlow 2 and Keras 3.

The names a user needs most are importable from here (`from gan_tf import GAN, SampleGrid`);
each lives in its own module. They are loaded on first use, so importing
`gan_tf.config` (as the CLI does to check flags) does not import TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "GAN": "gan_tf.gan",
    "TrainConfig": "gan_tf.config",
    "UserError": "gan_tf.errors",
    "MLPGenerator": "gan_tf.networks",
    "MLPDiscriminator": "gan_tf.networks",
    "DCGANGenerator": "gan_tf.networks",
    "DCGANDiscriminator": "gan_tf.networks",
    "SampleGrid": "gan_tf.callbacks",
    "ResumableCheckpoint": "gan_tf.callbacks",
    "MetricsLog": "gan_tf.callbacks",
    "StopOnNonFinite": "gan_tf.callbacks",
    "SampleQuality": "gan_tf.callbacks",
    "TrainingHealth": "gan_tf.callbacks",
    "export_generator": "gan_tf.export_lib",
    "load_images": "gan_tf.data",
}
# `gan_tf.train` is the command-line module (`python -m gan_tf.train`), whatever was imported
# before; the training function is `gan_tf.train_lib.train`. (Importing a submodule sets the
# package attribute of its name, so exporting a function under the same name would make
# `gan_tf.train` one or the other depending on import order.)
_SUBMODULES = ("train", "generate", "evaluate")

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"gan_tf.{name}")
    raise AttributeError(f"module 'gan_tf' has no attribute {name!r}")
