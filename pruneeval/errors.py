"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from the user (a path, a name, a malformed file line).

    The message names what is wrong and where (``file:line``, field)."""


MAX_LINE = 1000  # characters of an error line: a message quoting hostile input stays readable


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its class name when the message is empty)."""
    text = str(e).strip()
    return one_line(text.splitlines()[0]) if text else type(e).__name__
