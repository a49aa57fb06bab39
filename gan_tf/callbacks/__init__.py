"""Keras callbacks for generative models, usable in any Keras project.

One module per callback, as Keras lays out its own (`keras/src/callbacks/`):
- `SampleGrid` (`sample_grid`): PNG grids from fixed latent vectors, optional TensorBoard
  images and GIF.
- `ResumableCheckpoint` (`checkpoint`): `tf.train.CheckpointManager` checkpoints that resume
  exactly; the checkpoint-folder helpers are in `checkpoint_folders`.
- `StopOnNonFinite` (`stop_on_non_finite`): stops at the first NaN/inf loss or gradient norm.
- `MetricsLog` (`metrics_log`): one JSON line per epoch and a plot of the curves.
- `SampleQuality` (`sample_quality`): FD/KID (and class coverage) every N epochs, the best
  checkpoint by FD, and warnings when samples degrade or classes disappear (mode collapse).
- `TrainingHealth` (`training_health`; also `gan_tf.health` and `gan_tf.TrainingHealth`):
  warnings when D overpowers G for a sustained period or the fixed-latent samples lose their
  diversity.

None of them needs a `gan_tf.GAN`: they take the generator (or the objects to checkpoint)
explicitly, or find them on the model (`model.generator`, `model.checkpoint_items()`, the
optimizers and `keras.random.SeedGenerator`s of any other model). `TrainingHealth` and
`SampleQuality` have `get_state`/`set_state`: pass them to
`ResumableCheckpoint(callbacks=[...])` and a resumed run logs what an uninterrupted one
does. docs/callbacks.md says what each needs from a model of another project.
"""

from gan_tf.callbacks.checkpoint import ResumableCheckpoint, TrainingPreempted
from gan_tf.callbacks.checkpoint_folders import (CheckpointWriteError, check_checkpoint_list,
                                                 remove_temp_leftovers, save_checkpoint)
from gan_tf.callbacks.metrics_log import MetricsLog
from gan_tf.callbacks.sample_grid import SampleGrid
from gan_tf.callbacks.sample_quality import SampleQuality
from gan_tf.callbacks.stop_on_non_finite import StopOnNonFinite, TrainingDiverged, non_finite
from gan_tf.callbacks.training_health import TrainingHealth
from gan_tf.files import read_jsonl

__all__ = ["CheckpointWriteError", "MetricsLog", "ResumableCheckpoint", "SampleGrid",
           "SampleQuality", "StopOnNonFinite", "TrainingDiverged", "TrainingHealth",
           "TrainingPreempted", "check_checkpoint_list", "non_finite", "read_jsonl",
           "remove_temp_leftovers", "save_checkpoint"]
