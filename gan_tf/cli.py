"""What the command-line tools share: exit codes, flag parsing, one-line errors.

Nothing here imports TensorFlow, so bad flags are reported in a fraction of a second.
"""

import sys

from absl import app, flags

EXIT_ERROR = 1  # an error in the data, the model, the run directory or the output
EXIT_BAD_FLAGS = 2  # an invalid flag or combination; nothing was written


def error(message, code):
    """Prints `error: message` on stderr and returns `code` (for `return error(...)`)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def unexpected_arguments(argv):
    """EXIT_BAD_FLAGS with a message if there are positional arguments, else None."""
    if len(argv) > 1:
        return error(f"unexpected arguments {argv[1:]}; every option is a --flag "
                     "(see --help).", EXIT_BAD_FLAGS)
    return None


def parse_flags(argv):
    """absl's parser, exiting with EXIT_BAD_FLAGS (not 1) on a malformed flag."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as problem:
        print(f"error: {problem}. See --help.", file=sys.stderr)
        sys.exit(EXIT_BAD_FLAGS)


def run(main):
    """Runs an absl `main` with `parse_flags`."""
    app.run(main, flags_parser=parse_flags)
