"""Checkpoint folders: their list file checked, half-written saves removed, numbered saves."""

import glob
import os
import re
import shutil
import time

import tensorflow as tf

from gan_tf.errors import UserError, first_line
from gan_tf.messages import get_logger

_logger = get_logger(__name__)


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (disk full, permissions); the older ones are intact."""


def check_checkpoint_list(directory):
    """Refuses a checkpoint list naming files outside `directory`; sets aside a torn one.

    `tf.train.CheckpointManager` deletes the oldest listed checkpoints when it rotates and
    `tf.train.latest_checkpoint` reads the listed one, so a crafted list (the `checkpoint`
    file) could make them delete or read files anywhere.
    """
    path = os.path.join(directory, "checkpoint")
    if not os.path.lexists(path):
        return
    if os.path.islink(path):
        raise UserError(f"{path} is a symbolic link; a checkpoint list must be a plain "
                        "file inside its folder. Remove the link to continue.")
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001 - any failure to read it
        state = None
    if state is None:  # it exists but does not parse (TensorFlow logs and returns None)
        aside = f"{path}.unreadable-{int(time.time())}"
        os.replace(path, aside)
        _logger.warning(f"Warning: {path} cannot be read; moved it to {aside}. The "
                        "checkpoints themselves are found by their own files.")
        return
    root = os.path.realpath(directory)
    # `get_checkpoint_state` has already put a relative name under `directory` (the list
    # holds "ckpt-1"; it returns "<directory>/ckpt-1", relative to the current folder when
    # `directory` is): joining it with `directory` again would name a file outside.
    for name in [state.model_checkpoint_path, *state.all_model_checkpoint_paths]:
        if name and os.path.dirname(os.path.realpath(name)) != root:
            raise UserError(
                f"{path} names a checkpoint outside {directory}: {name!r}. gan_tf only "
                "reads and deletes checkpoints inside their folder; this list was edited or "
                "copied from elsewhere. Delete that file (the checkpoints are found by their "
                "own files) and rerun.")


def remove_temp_leftovers(directory):
    """Removes the `*_temp*` files and folders a killed or failed checkpoint write left."""
    for path in glob.glob(os.path.join(directory, "*_temp*")):
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)


def operating_system_reason(error):
    """What the system said of a failed write, without TensorFlow's wrapping.

    TensorFlow's `OpError` reads like `{{function_node __wrapped__SaveV2_dtypes_6_device_...}}
    PATH; No space left on device [Op:SaveV2]`: the function node and the op name mean nothing
    to a user, the file and the reason do.
    """
    reason = getattr(error, "strerror", None) or getattr(error, "message", None)
    reason = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", first_line(reason or error))
    return re.sub(r"\s*\[Op:\w+\]", "", reason).strip()


def save_checkpoint(manager, number, name="ckpt"):
    """`manager.save(checkpoint_number=number)`, a failed write raised as CheckpointWriteError.

    TensorFlow writes into `<name>-<number>_temp` and renames; that folder is removed after a
    failure, and the older checkpoints are untouched.
    """
    directory = manager.directory
    try:
        return manager.save(checkpoint_number=number)
    except (OSError, tf.errors.OpError) as error:
        remove_temp_leftovers(directory)
        reason = operating_system_reason(error)
        kept = manager.latest_checkpoint
        kept = (f"the previous checkpoint {os.path.basename(kept)} is intact" if kept
                else "no earlier checkpoint exists")
        raise CheckpointWriteError(
            f"Could not write checkpoint {name}-{number} in {directory}: {reason}. Training "
            f"stopped; {kept}. Free disk space (or fix the folder's permissions) and rerun "
            "the same command to resume."
        ) from None
