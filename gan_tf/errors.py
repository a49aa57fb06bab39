"""The one exception type gan_tf raises for problems a user can fix, and its checks."""

import math
import numbers


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


MAX_SEED = 2**31  # seeds are in [0, MAX_SEED): every seed gan_tf takes, one range


def _is_int(value):
    """An int or a numpy integer; bools are not integers here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name, value):
    """Raises the standard `UserError` unless `value` is an integer > 0."""
    if not _is_int(value) or value <= 0:
        raise invalid(name, value, "a positive integer")


def check_non_negative_int(name, value, expected="a non-negative integer"):
    """Raises the standard `UserError` (with `expected`) unless `value` is an integer >= 0."""
    if not _is_int(value) or value < 0:
        raise invalid(name, value, expected)


def check_seed(value, name="seed"):
    """Raises the standard `UserError` unless `value` is an integer in [0, 2**31)."""
    if not _is_int(value) or not 0 <= value < MAX_SEED:
        raise invalid(name, value, "an integer in [0, 2**31), e.g. 0")


def check_choice(name, value, choices):
    """Raises the standard `UserError` unless `value` is one of `choices`."""
    if value not in choices:
        raise invalid(name, value, "one of " + ", ".join(repr(c) for c in choices))


def check_non_negative(name, value):
    """Raises the standard `UserError` unless `value` is a finite number >= 0."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0):
        raise invalid(name, value, "a number >= 0 (0 turns it off), e.g. 10")


def check_fraction(name, value, example, low_open=False, high_open=False):
    """Raises the standard `UserError` unless `value` is a number in [0, 1] (0 excluded with
    `low_open`, 1 with `high_open`); the message names the interval and `example`."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not (0.0 < value if low_open else 0.0 <= value)
            or not (value < 1.0 if high_open else value <= 1.0)):
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise invalid(name, value, f"a number in {interval}, e.g. {example}")


def first_line(error, limit=300):
    """The first line of an exception's message, at most `limit` characters ('' if none)."""
    lines = str(error).splitlines()
    return lines[0][:limit] if lines else ""
