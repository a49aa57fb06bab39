"""What the command-line tools share: exit codes, flag parsing, one-line errors.

Nothing here imports TensorFlow, so bad flags are reported in a fraction of a second.
"""

import dataclasses
import sys
import typing

from absl import app, flags

EXIT_ERROR = 1  # an error in the data, the model, the run directory or the output
EXIT_BAD_FLAGS = 2  # an invalid flag or combination; nothing was written


def error(message, code):
    """Prints `error: message` on stderr and returns `code` (for `return error(...)`)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def unexpected_arguments_message(argv):
    return f"unexpected arguments {argv[1:]}; every option is a --flag (see --help)."


def unexpected_arguments(argv):
    """EXIT_BAD_FLAGS with a message if there are positional arguments, else None."""
    if len(argv) > 1:
        return error(unexpected_arguments_message(argv), EXIT_BAD_FLAGS)
    return None


_HELP_FLAGS = ("-h", "-?", "--help", "-help", "--helpshort", "-helpshort", "--helpfull",
               "-helpfull", "--helpxml", "-helpxml")


def parse_flags(argv):
    """absl's parser, exiting with EXIT_BAD_FLAGS (not 1) on a malformed flag, 0 after --help.

    absl raises `flags.Error` for most malformed flags and a plain `ValueError` for a value
    given to a negated boolean (`--nodownload=1`); both are bad flags. Its help flags print
    the usage and exit 1; asking for help is no error.
    """
    try:
        return flags.FLAGS(argv)
    except (flags.Error, ValueError) as problem:
        print(f"error: {problem}. See --help.", file=sys.stderr)
        sys.exit(EXIT_BAD_FLAGS)
    except SystemExit as stop:
        if stop.code == 1 and any(arg in _HELP_FLAGS for arg in argv[1:]):
            sys.exit(0)
        raise


_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
           bool: flags.DEFINE_boolean}


def define_config_flags(config_class, flag_values=flags.FLAGS):
    """One flag per field of the dataclass `config_class` (its default, `metadata["help"]`),
    typed by its annotation (`Optional[X]` gives an X flag whose default is None)."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
        _DEFINE[kind](field.name, field.default, field.metadata["help"],
                      flag_values=flag_values)


def config_from_flags(config_class, flag_values=flags.FLAGS):
    """`config_class` built from parsed flags; it raises `UserError` for an invalid value."""
    return config_class(**{field.name: flag_values[field.name].value
                           for field in dataclasses.fields(config_class)})


def parse_config(config_class, argv):
    """`argv` (program name first) -> `config_class`, as a CLI parses it, with no side effect.

    The flags are defined on a fresh `FlagValues`, so tests can call it any number of times.
    Raises what makes the CLI exit with EXIT_BAD_FLAGS: `flags.Error` or `ValueError` (a
    malformed flag, see `parse_flags`) or `UserError` (an invalid value or combination, or
    positional arguments).
    """
    from gan_tf.errors import UserError

    flag_values = flags.FlagValues()
    define_config_flags(config_class, flag_values)
    rest = flag_values(list(argv))
    if len(rest) > 1:
        raise UserError(unexpected_arguments_message(rest))
    return config_from_flags(config_class, flag_values)


def start_tensorflow():
    """Imports TensorFlow for a command: its start-up noise dropped, real errors kept.

    TensorFlow's C++ INFO lines are off (`TF_CPP_MIN_LOG_LEVEL=1` unless the user set it),
    absl's Python log shows warnings and errors only (TensorFlow's INFO lines would drown
    gan_tf's own), and the lines `gan_tf.startup.NOISE` lists are filtered from the import.
    """
    import os

    from absl import logging

    from gan_tf import startup

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    logging.set_verbosity(logging.WARNING)
    startup.filter_process_stderr()  # on for the whole command: TF prints noise later too
    startup.import_tensorflow()


def run_checked_command(check, execute, flag_values, bad_flag_errors=()):
    """Runs a command in two phases and returns its exit code (the table commands use it).

    `check(flag_values)` reads the parsed flags without TensorFlow (a `UserError` exits
    EXIT_BAD_FLAGS); then TensorFlow starts and `execute(request)` does the work and returns
    a line to print (a `UserError` exits EXIT_ERROR, one of `bad_flag_errors`
    EXIT_BAD_FLAGS; training stopped by SIGTERM exits with its own code).
    """
    from gan_tf.errors import UserError

    try:
        request = check(flag_values)
    except UserError as problem:
        return error(problem, EXIT_BAD_FLAGS)
    start_tensorflow()
    from gan_tf.callbacks import TrainingPreempted

    try:
        line = execute(request)
    except TrainingPreempted as stopped:
        return error(stopped, TrainingPreempted.EXIT_CODE)
    except UserError as problem:
        return error(problem, EXIT_BAD_FLAGS if isinstance(problem, bad_flag_errors)
                     else EXIT_ERROR)
    print(line)
    return 0


def run(main):
    """Runs an absl `main` with `parse_flags`."""
    app.run(main, flags_parser=parse_flags)


def run_console(module, main):
    """Runs the CLI `module`'s `main` as a console command (setup.cfg's console_scripts).

    absl's `--help` lists the flags of the program's main module and prints its docstring;
    under a console command the main module is pip's small wrapper script, so without this
    `gan-tf-train --help` would list no flag. The module's key flags and docstring are lent
    to the wrapper, and `--help` reads as `python -m` gives it.
    """
    main_module = sys.modules["__main__"]
    if not getattr(main_module, "__doc__", None):
        main_module.__doc__ = module.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    run(main)
