"""The one error a user's mistake raises: printed as `tensorbench: error: ...`, exit status 2."""


class UsageError(Exception):
    """Bad input from the user; the message says what is wrong and what is valid."""
