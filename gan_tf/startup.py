"""Starting TensorFlow without its start-up noise, keeping real errors visible.

Importing TensorFlow 2.21 on a machine without a GPU prints, before any of gan_tf's lines,
"Could not find cuda drivers on your machine", "failed call to cuInit: ... UNKNOWN ERROR",
"oneDNN custom operations are on" and "All log messages before absl::InitializeLog() is
called are written to STDERR", twice, and `TF_CPP_MIN_LOG_LEVEL=3` does not stop them (its C++
logging is not set up yet when they are written). On a CPU machine they read like errors.

`import_tensorflow()` imports TensorFlow (and lets it look for GPUs) with the process's
standard error passed through a filter thread: the lines listed in `NOISE` are dropped, every
other line is written on as it arrives, so an error during the import still shows. A hard
crash (an abort or a segmentation fault inside TensorFlow) can lose the last lines still in
the pipe: to debug one, set `GAN_TF_SHOW_TF_LOGS=1`, which turns the filter off.
TensorFlow-free at import.
"""

import contextlib
import os
import re
import sys
import threading

# Start-up lines of TensorFlow/XLA that say nothing a CPU user needs (each matched anywhere in
# a line). Anything else, warnings and errors included, is passed through.
NOISE = tuple(re.compile(pattern) for pattern in (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine",
    r"failed call to cuInit",
    r"cpu_feature_guard\.cc.*This TensorFlow binary is optimized",
    r"^To enable the following instructions: .*rebuild TensorFlow",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
    r"Unable to load libcuda|cuda_dnn\.cc|cuda_blas\.cc|cuda_fft\.cc",
    # Grappler giving up one rewrite of a training graph (it runs the graph unrewritten).
    r"meta_optimizer\.cc.*remapper failed: INVALID_ARGUMENT: Mutation::Apply error",
    # The LiteRT converter and interpreter (`gan_tf.export_lib`).
    r"tf_tfl_flatbuffer_helpers\.cc.*Ignored (output_format|drop_control_dependency)",
    r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
))
SHOW_ALL = "GAN_TF_SHOW_TF_LOGS"


def is_noise(line):
    """True for a start-up line listed in `NOISE`."""
    return any(pattern.search(line) for pattern in NOISE)


@contextlib.contextmanager
def filtered_stderr():
    """Drops `NOISE` lines written to file descriptor 2 (by C++ or Python) inside the block."""
    try:
        if sys.stderr is not None:  # None under pythonw or `2>&-`
            sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedding host): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()

    def forward():
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not is_noise(line.decode("utf-8", "replace")):
                    os.write(original, line)

    thread = threading.Thread(target=forward, name="gan_tf-stderr-filter", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # closes the pipe's last write end: the thread reads to the end
        thread.join(timeout=5)
        if not thread.is_alive():  # else the thread still writes to it: leave it open
            os.close(original)


_process_filter = []  # the filter `filter_process_stderr` keeps on, once started


def filter_process_stderr():
    """Keeps the filter on until the process exits (the command-line programs call it).

    TensorFlow's noise does not end with the import: Grappler's "remapper failed" is printed
    when a training graph is first optimized. Every other line still passes as it arrives;
    at exit the filter is drained and fd 2 restored, so a traceback printed on the way out
    shows in full. Does nothing with `GAN_TF_SHOW_TF_LOGS=1`.
    """
    import atexit

    if _process_filter or os.environ.get(SHOW_ALL, "") not in ("", "0"):
        return
    context = filtered_stderr()
    context.__enter__()
    _process_filter.append(context)
    atexit.register(context.__exit__, None, None, None)


def import_tensorflow():
    """Imports TensorFlow and lists its devices quietly (see the module docstring).

    Returns the `tensorflow` module. Later imports anywhere in the process are free and
    silent. With `GAN_TF_SHOW_TF_LOGS=1` nothing is filtered.
    """
    if os.environ.get(SHOW_ALL, "") not in ("", "0") or _process_filter:
        import tensorflow as tf

        tf.config.list_physical_devices()
        return tf
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()  # where cuInit runs and fails on a CPU machine
    return tf
