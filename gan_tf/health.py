"""`TrainingHealth` and its statistics, kept importable from here: the callback lives in
`gan_tf.callbacks.training_health` with the other callbacks."""

from gan_tf.callbacks.training_health import *  # noqa: F401,F403
from gan_tf.callbacks.training_health import TrainingHealth  # noqa: F401
