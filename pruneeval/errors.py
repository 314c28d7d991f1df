"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from the user (a path, a name, a malformed file line).

    The message names what is wrong and where (``file:line``, field)."""
