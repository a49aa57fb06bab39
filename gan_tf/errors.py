"""The one exception type gan_tf raises for problems a user can fix, and its checks."""

import math


class UserError(ValueError):
    """Bad input from the user: a flag, a dataset, a path or a saved file.

    The message names what was received, what was expected and the fix. The CLIs print it
    without a traceback and exit non-zero; library callers can catch it as a `ValueError`.
    """


def invalid(argument, received, expected):
    """Builds the standard message: `Invalid value for argument ...`."""
    return UserError(
        f"Invalid value for argument {argument}. Received: {argument}={received!r}. "
        f"Expected {expected}."
    )


def check_positive_int(name, value):
    """Raises the standard `UserError` unless `value` is an int > 0 (bools are not ints here)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise invalid(name, value, "a positive integer")


def check_choice(name, value, choices):
    """Raises the standard `UserError` unless `value` is one of `choices`."""
    if value not in choices:
        raise invalid(name, value, "one of " + ", ".join(repr(c) for c in choices))


def check_non_negative(name, value):
    """Raises the standard `UserError` unless `value` is a finite number >= 0."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0):
        raise invalid(name, value, "a number >= 0 (0 turns it off), e.g. 10")


def first_line(error, limit=300):
    """The first line of an exception's message, at most `limit` characters ('' if none)."""
    lines = str(error).splitlines()
    return lines[0][:limit] if lines else ""
