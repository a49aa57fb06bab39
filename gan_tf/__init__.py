"""gan_tf: generative adversarial networks on TensorFlow 2 and Keras 3.

The parts a user imports most (`GAN`, the networks, the callbacks) are importable from here;
each lives in its own module (see DESIGN.md).
"""

__version__ = "0.1.0"
