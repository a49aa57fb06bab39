"""Shared fixtures: quiet TensorFlow, fixed seeds, tiny configs and image folders."""

import contextlib
import dataclasses
import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Cached domain classifiers and real-data features go to a temporary folder shared by the
# tests of one session (and their subprocesses), never to the user's ~/.cache. It is removed
# at the end of the session (`pytest_unconfigure`) unless the caller chose it. Each pytest
# process makes its own: a pytest-xdist worker inherits the environment of the process that
# started it, whose folder is not the worker's to fill or remove.
_SESSION_CACHE = None
if ("GAN_TF_CACHE" not in os.environ
        or os.environ.get("GAN_TF_TEST_CACHE") == os.environ["GAN_TF_CACHE"]):
    _SESSION_CACHE = tempfile.mkdtemp(prefix="gan_tf_test_cache_")
    os.environ["GAN_TF_CACHE"] = os.environ["GAN_TF_TEST_CACHE"] = _SESSION_CACHE

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# What gan_tf.train_lib.train sets for bit-identical runs; it must happen before TensorFlow
# runs its first op, which the tests do before they call train().
tf.config.threading.set_inter_op_parallelism_threads(1)

from gan_tf.config import TrainConfig  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `python -m gan_tf.train` plus the marker files the subprocess tests wait for.
TRAIN_DRIVER = os.path.join(REPO, "tests", "train_driver.py")

# The reproducibility contract: the same seed, labels and batch size on one machine give
# bit-identical images; another batch size gives the same images within this tolerance,
# because oneDNN and Eigen block their float32 sums by batch size, and the blocking differs
# between CPU kinds (AVX2-only machines measured 2.1e-7 and 4.2e-7 where AVX-512 ones
# happened to match bit for bit). Tests compare across batch sizes with this, never exactly.
ACROSS_BATCH_SIZES_ATOL = 1e-5


@pytest.fixture(scope="session", autouse=True)
def _session_temporary_folders(tmp_path_factory):
    """Leaves nothing in the system's temporary folder after the session.

    What the code under test puts there outside `tmp_path` goes into one folder, for this
    process (`tempfile.tempdir`) and the processes the tests start (`TMPDIR`), removed at the
    end with the session's GAN_TF_CACHE: tensorflow-datasets' empty `tmp*tfds` folders (one
    per builder made on a folder without that dataset), the tiny tfds builder's package
    folder, and the `gan_tf_worker_*` copy of a multi-worker run whose worker a test kills.
    The tests' processes have all ended by then. pytest's own `tmp_path` folders are not in
    it: pytest keeps them as it always does.
    """
    tmp_path_factory.getbasetemp()  # fixed before tempfile.tempdir moves
    folder = tempfile.mkdtemp(prefix="gan_tf_test_tmp_")
    saved_tempdir, saved_environ = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = folder
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_environ is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_environ
        shutil.rmtree(folder, ignore_errors=True)


def pytest_unconfigure(config):
    """The session's cache folder goes at the end (in a pytest-xdist controller too, which
    runs no test)."""
    if _SESSION_CACHE:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test touches the network: the download probe always reports it unreachable."""
    from gan_tf import data

    monkeypatch.setattr(data, "network_reachable", lambda timeout=3.0: False)


@pytest.fixture(autouse=True)
def _subprocess_tests_are_slow(request, monkeypatch):
    """`-m "not slow"` means what README says: a test that starts a process is marked slow.

    Starting a Python process that imports TensorFlow takes seconds; a test that does so
    without the mark fails here, naming the fix.
    """
    if request.node.get_closest_marker("slow"):
        return
    def refuse(self, *args, **kwargs):
        pytest.fail(f"{request.node.nodeid} starts a process ({args[0] if args else ''}) but "
                    "is not marked @pytest.mark.slow: mark it, so that -m 'not slow' stays "
                    "fast.", pytrace=False)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)


class _ListHandler(logging.Handler):
    def __init__(self, messages):
        super().__init__()
        self.messages = messages

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def collect_messages(logger_name="gan_tf"):
    """The messages gan_tf logs (to `logger_name` and below) inside the block, as a list."""
    messages = []
    handler = _ListHandler(messages)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def messages():
    """The messages gan_tf logs during the test, in order."""
    with collect_messages() as collected:
        yield collected


def tiny_config(tmp_path, **overrides):
    """A config that trains in about a second: 256 digits, the design note's MLP, 2 epochs.

    Sample scoring is off (it trains a domain classifier); tests of it turn it on. It is
    unconditional (the default would make it conditional on the labelled digits); tests of
    conditional runs pass conditional=True, and of the default, conditional=None.
    """
    values = dict(architecture="mlp", max_examples=256, batch_size=64, epochs=2,
                  conditional=False, output_dir=str(tmp_path / "run"), eval_every_n_epochs=0)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def make_tiny_config(tmp_path):
    return lambda **overrides: tiny_config(tmp_path, **overrides)


_TRAINED_RUNS = {}  # a config (less its output_dir), as JSON -> its run, trained this session


def trained_run_copy(tmp_path_factory, root, **overrides):
    """`tiny_config(root, **overrides)` with its run already trained, as `train_lib.train`
    leaves it: a copy of a run trained once per session with the same config.

    For tests (and module fixtures) whose subject is what happens to a finished run (resumed,
    damaged, refused, read) rather than its first training: that costs a second or more, a
    copy a few milliseconds. Call it before patching anything the training uses: the first
    caller of a config trains the shared run.
    """
    from gan_tf import train_lib

    config = tiny_config(root, **overrides)
    key = json.dumps({**config.to_dict(), "output_dir": None}, sort_keys=True)
    if key not in _TRAINED_RUNS:
        source = dataclasses.replace(
            config, output_dir=str(tmp_path_factory.mktemp("trained") / "run"))
        train_lib.train(source, verbose=0)
        _TRAINED_RUNS[key] = source.output_dir
    shutil.copytree(_TRAINED_RUNS[key], config.output_dir, symlinks=True)
    return config


@pytest.fixture
def trained_tiny_config(tmp_path, tmp_path_factory):
    """`trained_tiny_config(**overrides)`: `trained_run_copy` under tmp_path (or `root=PATH`)."""
    return lambda root=None, **overrides: trained_run_copy(tmp_path_factory, root or tmp_path,
                                                          **overrides)


def write_image_folder(root, count=8, size=(28, 28), mode="L", classes=("a", "b")):
    """PNG files in one sub-folder per class (or flat with classes=()); returns root."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folders = [os.path.join(root, c) for c in classes] or [root]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
        for index in range(count):
            shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                os.path.join(folder, f"{index}.png"))
    return str(root)


def run_python(args, cwd=None, env=None, timeout=300):
    """Runs `python args...` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    return subprocess.run([sys.executable] + list(args), cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_python_together(commands, timeout=300):
    """`run_python` for several independent commands at once, `[(args, cwd), ...]`: their
    seconds of TensorFlow import overlap. Returns their CompletedProcess (text), in order."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    processes = [subprocess.Popen([sys.executable] + list(args), cwd=cwd or REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args, cwd in commands]
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(process.args, process.returncode,
                                                       out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def checkpoint_values(run_dir, save_counter=True):
    """Every variable of a run's newest checkpoint, by name: both networks, both optimizers'
    slots and counters, the epoch and step, the running loss means (and TensorFlow's count of
    saves unless `save_counter=False`, for runs that saved a different number of times)."""
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "_CHECKPOINTABLE_OBJECT_GRAPH" not in name
            and (save_counter or not name.startswith("save_counter/"))}


def assert_same_checkpoints(first, second, save_counter=True):
    """The newest checkpoints of two runs hold the same variables with equal values."""
    a = checkpoint_values(first, save_counter)
    b = checkpoint_values(second, save_counter)
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    return a


def tensorboard_events(log_dir):
    """(tag, step) of every summary value in the event files under `log_dir`."""
    import tensorflow as tf

    events = []
    for folder, _, names in os.walk(log_dir):
        for name in sorted(names):
            if "tfevents" in name:
                for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
                    event = tf.compat.v1.Event.FromString(record.numpy())
                    events += [(value.tag, event.step) for value in event.summary.value]
    return events


_MARKER_FIFOS = {}  # marker directory -> read end of its `events` FIFO


def marker_directory(directory):
    """Makes `directory` for a train_driver's markers, with the FIFO it announces them on.

    Returns the directory (a str), for `GAN_TF_MARKER_DIR`. Call it before starting the
    trainer: the driver writes to the FIFO only if it exists when it starts.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    if directory not in _MARKER_FIFOS:
        os.mkfifo(os.path.join(directory, "events"))
        _MARKER_FIFOS[directory] = _open_events(directory)
    return directory


def _open_events(directory):
    # Non-blocking: opening a FIFO's read end otherwise waits for a writer. A fresh read end
    # is not readable until a writer has come; an old one whose writers all left reads EOF.
    return os.open(os.path.join(directory, "events"), os.O_RDONLY | os.O_NONBLOCK)


def wait_for_marker(marker, processes, seconds=180):
    """Waits until a trainer writes `marker` (a path); fails if any of `processes` exits first.

    The subprocess tests synchronise on these files, never on sleeps (see
    `tests/train_driver.py`). It sleeps in `select` until the driver announces a marker on
    its FIFO (see `marker_directory`) or a trainer exits (a pidfd), so it neither polls nor
    spins.
    """
    import select
    import time

    deadline = time.monotonic() + seconds
    directory = os.path.dirname(os.fspath(marker))
    if directory not in _MARKER_FIFOS:
        raise ValueError(f"{marker} is not in a marker_directory()")
    fifo = _MARKER_FIFOS[directory]
    exits = [os.pidfd_open(process.pid) for process in processes]
    watched = [fifo, *exits]
    try:
        while not os.path.exists(marker):
            for process in processes:
                if process.poll() is not None:
                    out, err = process.communicate()
                    pytest.fail(f"a trainer exited ({process.returncode}) before {marker}:\n"
                                f"{out}\n{err}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for process in processes:
                    process.kill()
                pytest.fail(f"no {marker} after {seconds} s")
            ready, _, _ = select.select(watched, [], [], remaining)
            if fifo in ready and not os.read(fifo, 1 << 16):
                # Every writer left (an earlier trainer ended): EOF for good on this end.
                # Open a fresh one before closing it, so a new writer never lacks a reader.
                watched.remove(fifo)
                fresh = _open_events(directory)
                os.close(fifo)
                fifo = _MARKER_FIFOS[directory] = fresh
                watched.insert(0, fifo)
    finally:
        for descriptor in exits:
            os.close(descriptor)


@functools.lru_cache(maxsize=None)
def _tiny_colour_tfds_class():
    """Registers (once) a small labelled colour tensorflow-datasets builder (PNG records)."""
    import tensorflow_datasets as tfds
    from etils import epath

    class GanTfTestTinyColour(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")
        pkg_dir_path = epath.Path(tempfile.mkdtemp(prefix="gan_tf_tfds_"))

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(10, 6, 3)),
                    "label": tfds.features.ClassLabel(names=["red", "green", "blue"])}),
                supervised_keys=("image", "label"))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            rng = np.random.default_rng(0)
            for index in range(90):
                image = rng.integers(0, 60, (10, 6, 3), dtype=np.uint8)
                image[..., index % 3] += 150
                yield index, {"image": image, "label": index % 3}

    return GanTfTestTinyColour


def prepare_tiny_colour_tfds(root, file_format="array_record"):
    """Prepares the tiny colour tfds dataset (90 images 10x6x3, 3 classes) under `root`;
    returns its name."""
    builder = _tiny_colour_tfds_class()(data_dir=str(root), file_format=file_format)
    builder.download_and_prepare()
    return builder.name
