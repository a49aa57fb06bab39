"""Atomic file writes: a reader (or a kill -9) never sees half a file."""

import os
import tempfile


def _default_mode(directory=False):
    """The mode a plain open()/mkdir() would give under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def atomic_write_bytes(path, data):
    """Writes `data` to `path` through a temporary file in the same folder, then renames it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_path, _default_mode())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def make_temp_dir(parent, prefix):
    """`tempfile.mkdtemp` in `parent`, with the permissions of a plain `mkdir`."""
    path = tempfile.mkdtemp(dir=parent, prefix=prefix)
    os.chmod(path, _default_mode(directory=True))
    return path


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def check_writable_directory(path):
    """Creates `path` if needed and proves a file can be written there; raises OSError if not."""
    os.makedirs(path, exist_ok=True)
    probe = os.path.join(path, ".gan_tf_write_probe")
    with open(probe, "wb") as stream:
        stream.write(b"ok")
    os.remove(probe)
