"""Atomic file writes (a reader, or a kill -9, never sees half a file) and folder locks."""

import contextlib
import datetime
import io
import json
import os
import shutil
import socket
import tempfile

from gan_tf.errors import UserError


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
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX
    )
    try:
        _lock(handle)  # held until closed: `remove_abandoned` leaves a live write alone
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


TEMP_SUFFIX = ".tmp"  # atomic_write_bytes's temporary files: `.NAME.XXXXXXXX.tmp`
_STAGING_INFIX = "_tmp_"  # staging_directory's folders: `.LABEL_tmp_XXXXXXXX`


def _lock(descriptor):
    """Takes an exclusive flock on an open file or folder descriptor (held until closed)."""
    import fcntl

    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path):
    """Whether no live process holds the flock of the temporary `path` (its writer died)."""
    import fcntl

    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)


def _is_temporary(name, labels=None):
    """Whether `name` is one of this module's temporaries (of `labels`' staging folders)."""
    import re

    if labels is None:
        return bool(re.fullmatch(r"\..+\.[A-Za-z0-9_]{8}" + re.escape(TEMP_SUFFIX), name)
                    or re.fullmatch(r"\..+" + _STAGING_INFIX + r"[A-Za-z0-9_]{8}", name))
    return any(re.fullmatch(re.escape(f".{label}{_STAGING_INFIX}") + r"[A-Za-z0-9_]{8}", name)
               for label in labels)


def remove_abandoned(folder, labels=None, recursive=False):
    """Removes the temporaries that killed writers left in `folder`; returns their paths.

    A temporary is a file of `atomic_write_bytes` or a folder of `staging_directory` (only
    the folders of `labels`, e.g. ("export",), when given: in a folder of the user's, nothing
    else is touched). Its writer holds an flock on it while it lives, which the kernel drops
    when the process dies (kill -9 included), so one being written now is left alone.
    `recursive` also looks in sub-folders (a run directory's).
    """
    removed = []
    if not os.path.isdir(folder):
        return removed
    for parent, folders, files in os.walk(folder):
        for name in sorted(folders + files):
            path = os.path.join(parent, name)
            if (name.startswith(".") and not os.path.islink(path)
                    and _is_temporary(name, labels) and _abandoned(path)):
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(path)
                removed.append(path)
        folders[:] = [name for name in folders if recursive and not name.startswith(".")
                      and not os.path.islink(os.path.join(parent, name))]
    return removed


def make_temp_dir(parent, prefix):
    """`tempfile.mkdtemp` in `parent`, with the permissions of a plain `mkdir`."""
    path = tempfile.mkdtemp(dir=parent, prefix=prefix)
    os.chmod(path, _default_mode(directory=True))
    return path


@contextlib.contextmanager
def staging_directory(path, label):
    """A new folder beside `path` to build it in, removed on exit unless moved into place.

    Build everything in the yielded folder, then `os.rename` it to `path` (the caller decides
    what an existing `path` means: replaced, kept, or refused), so `path` is never seen half
    written and a failure leaves nothing behind.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    remove_abandoned(parent, labels=(label,))  # left by a writer killed before this one
    staging = make_temp_dir(parent, f".{label}{_STAGING_INFIX}")
    descriptor = os.open(staging, os.O_RDONLY)
    try:
        _lock(descriptor)  # held while building: `remove_abandoned` leaves it alone
        yield staging
    finally:
        os.close(descriptor)
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def replace_directory(staging, path):
    """Moves the folder built in `staging` (a `staging_directory`) to `path`, replacing the
    folder there, if any.

    The old folder is first moved into a locked `.export_old_tmp_` staging folder that is
    removed on exit, so `path` is never half old, half new; a kill between the two renames
    leaves no `path` (the caller writes it again) and a leftover that the next call removes.
    """
    remove_abandoned(os.path.dirname(path), labels=("export_old",))
    if os.path.exists(path):
        with staging_directory(path, "export_old") as retired:
            os.rename(path, os.path.join(retired, "old"))
            os.rename(staging, path)
    else:
        os.rename(staging, path)


def check_report_folder(path, names):
    """Refuses (UserError) a report folder `path` that holds anything but `names`.

    A report folder is replaced whole when a report is written again; one that holds other
    files (an `--output` naming a folder of the user's) must never be deleted for it.
    """
    if os.path.isfile(path):
        raise UserError(f"Cannot write the report to {path}: it is a file. Pass --output=DIR, "
                        "a new or empty folder (or one holding an earlier report).")
    others = sorted(set(os.listdir(path)) - set(names)) if os.path.isdir(path) else []
    if others:
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise UserError(f"Cannot write the report to {path}: it holds files that are not a "
                        f"report ({listed}), which writing it would delete. Pass --output=DIR, "
                        "a new or empty folder (or one holding an earlier report).")


def replace_report_folder(staging, path, names):
    """Moves the report built in `staging` to `path`, replacing an earlier report there (one
    holding only `names`: `check_report_folder`)."""
    check_report_folder(path, names)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.rename(staging, path)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def check_writable_directory(path):
    """Creates `path` if needed and proves a file can be written there; raises OSError if not."""
    os.makedirs(path, exist_ok=True)
    probe = os.path.join(path, ".gan_tf_write_probe")
    with open(probe, "wb") as stream:
        stream.write(b"ok")
    os.remove(probe)


class DirectoryLock:
    """An exclusive lock on a folder, held by this process until `release()` or its end.

    It is an `fcntl.flock` on `<folder>/.lock`: the kernel drops it when the process dies,
    however it dies (kill -9 included), so a lock left by a killed run never blocks the next
    one. The file says who holds it (pid, host, start time) for the error message; its content
    is informational only. Not reliable on NFS (flock is local there); a lock on such a folder
    only guards against processes of the same machine.

    Use as a context manager or call `acquire()` / `release()`.
    """

    FILE = ".lock"

    def __init__(self, directory, what="this folder"):
        self.path = os.path.join(directory, self.FILE)
        self.what = what
        self._stream = None

    def acquire(self):
        """Takes the lock; raises `LockHeld` (a UserError) naming the holder if it is taken."""
        import fcntl

        stream = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            stream.close()
            raise LockHeld(f"{self.what} is in use by another gan_tf process ({holder}). Wait "
                           "for it to finish, stop it, or pass another --output_dir.") from None
        except OSError as error:
            stream.close()
            raise UserError(f"Cannot lock {self.path}: {error.strerror or error}.") from None
        stream.seek(0)
        stream.truncate()
        stream.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": datetime.datetime.now().isoformat(
                                     timespec="seconds")}))
        stream.flush()
        self._stream = stream
        return self

    def release(self):
        if self._stream is not None:
            self._stream.close()  # closing the file drops the flock
            self._stream = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


class LockHeld(UserError):
    """Another process holds a `DirectoryLock`."""


def read_jsonl(path):
    """Parses a JSON-lines file, skipping a torn (unparseable) line; [] if it is missing."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def count_lines(path):
    """The number of lines of a file (0 if it is missing)."""
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def npy_bytes(array):
    """`array` as the bytes of a .npy file (no pickles)."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
