"""The one exception type gan_tf raises for problems a user can fix."""


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
