"""``\\boxed{...}`` contents by brace matching, in linear time: a leaf module (only ``re``), so
``benchmarks`` reads gold answers from MATH solutions without importing the grader."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)")
_BRACES = re.compile(r"[{}]")


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, contents) of every closed ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 2``, in
    order: ``text[start:end]`` is the whole box (``\\boxed{5}``, ``\\boxed 2``)."""
    match, out = None, []
    for m in _BOX.finditer(text):
        rest = text[m.end():m.end() + 200]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            if match is None:  # index of each "{" -> its matching "}", one pass over the braces for all boxes
                stack, match = [], {}
                for brace in _BRACES.finditer(text):
                    if brace.group() == "{":
                        stack.append(brace.start())
                    elif stack:
                        match[stack.pop()] = brace.start()
            i = m.end() + len(rest) - len(stripped)
            if i in match:
                out.append((m.start(), match[i] + 1, text[i + 1:match[i]].strip()))
        elif rest[:1] == " " and stripped.split("$")[0].split():  # "\\boxed 2$."
            word = stripped.split("$")[0].split()[0]
            token = word.rstrip(".,")
            if token:
                at = m.end() + len(rest) - len(stripped)
                out.append((m.start(), at + len(token), token))
    return out


def all_boxed(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 2``, in order."""
    return [c for _, _, c in boxed_spans(text)]


def last_boxed(text: str) -> str | None:
    """Content of the last closed ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 2``) in ``text``,
    as Qwen2.5-Math's ``extract_answer`` finds it."""
    boxed = all_boxed(text)
    return boxed[-1] if boxed else None
