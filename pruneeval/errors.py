"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from the user (a path, a name, a malformed file line).

    The message names what is wrong and where (``file:line``, field)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its class name when the message is empty)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
