"""gan_tf's one message channel: the standard `logging` logger named `gan_tf`.

Every progress line, note and warning the library writes (training, evaluation, the
callbacks when used in another Keras project) goes to a logger under `gan_tf`: one per
module, e.g. `gan_tf.callbacks.checkpoint`. Out of the box they print as plain lines,
information to standard output and warnings to standard error, so a callback reads like
Keras's own output. To silence or redirect them, use `logging` as for any library:

    import logging
    logging.getLogger("gan_tf").setLevel(logging.WARNING)     # warnings only
    logging.getLogger("gan_tf").setLevel(logging.ERROR)       # nothing but errors
    logging.getLogger("gan_tf.callbacks").setLevel(logging.WARNING)  # quiet callbacks only
    logging.getLogger("gan_tf").handlers[:] = [my_handler]    # send them elsewhere

The `gan_tf` logger does not pass its records on to the root logger (absl and many
applications print the root logger's records, which would show every line twice); add a
handler to `gan_tf` to collect them. TensorFlow-free at import.
"""

import logging
import sys

ROOT = "gan_tf"


class ConsoleHandler(logging.Handler):
    """Writes each record's message alone: INFO and below to stdout, WARNING and up to stderr.

    The streams are looked up at each record, so a redirected `sys.stdout` (a notebook, a
    test's capture) receives the lines.
    """

    def emit(self, record):
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging's own contract: never raise from emit
            self.handleError(record)


def get_logger(name):
    """The logger of a gan_tf module (`__name__`), under the `gan_tf` logger."""
    if name != ROOT and not name.startswith(ROOT + "."):
        name = f"{ROOT}.{name}"
    return logging.getLogger(name)


def _configure_root():
    root = logging.getLogger(ROOT)
    if not any(isinstance(handler, ConsoleHandler) for handler in root.handlers):
        root.addHandler(ConsoleHandler())
    if root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    root.propagate = False


_configure_root()
