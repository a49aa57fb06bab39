"""Progress bars for long work outside `fit`: drawing thousands of samples, feature passes.

The bar is Keras's own `Progbar`, so `generate` and `evaluate` look like `fit`. Bars show
only inside `shown()`, which the user-facing jobs open (`evaluate`, `generate`'s dataset
writer, the downstream report, the human-evaluation page), and only while the `gan_tf`
logger shows information: `logging.getLogger("gan_tf").setLevel(logging.WARNING)` silences
them with every other progress line. The same loops run inside training (the sample-quality
callback) show nothing, so no bar cuts through `fit`'s. TensorFlow-free at import.
"""

import contextlib
import contextvars
import logging
import sys

from gan_tf import messages

_SHOWN = contextvars.ContextVar("gan_tf_progress_shown", default=False)
_logger = messages.get_logger(__name__)


@contextlib.contextmanager
def shown():
    """Bars made inside the block are shown (nesting is fine)."""
    token = _SHOWN.set(True)
    try:
        yield
    finally:
        _SHOWN.reset(token)


class _Silent:
    def add(self, count):
        pass


class _Lines:
    """The bar where standard output is no terminal (a log file, a pipe): a plain line at
    each tenth of the work, no carriage-return redraws or colour codes, like `fit`'s
    `verbose=2`."""

    def __init__(self, total, unit):
        self.total = total
        self.unit = unit
        self.done = 0
        self.shown = 0  # tenths reported

    def add(self, count):
        self.done += count
        tenths = min(10, self.done * 10 // self.total)
        if tenths > self.shown:
            self.shown = tenths
            percent = self.done * 100 // self.total
            _logger.info(f"  {self.done:,} of {self.total:,} {self.unit}s ({percent}%)")


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(total, description, unit="image", min_total=1000):
    """A bar with `.add(count)`: a Keras `Progbar` of `total` `unit`s, or a silent stand-in.

    It shows inside `shown()` when the `gan_tf` logger shows information and `total` is at
    least `min_total` (short work needs no bar); `description` is logged above it. Where
    standard output is not a terminal (`> log`), it writes a plain line per tenth instead of
    redrawing one line.
    """
    if (not _SHOWN.get() or total < min_total
            or not logging.getLogger(messages.ROOT).isEnabledFor(logging.INFO)):
        return _Silent()
    _logger.info(description)
    if not _is_terminal(sys.stdout):
        return _Lines(total, unit)
    import keras

    return keras.utils.Progbar(total, unit_name=unit)


def showing(function):
    """Decorator: `function` runs inside `shown()` (for the user-facing jobs)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with shown():
            return function(*args, **kwargs)

    return wrapper
