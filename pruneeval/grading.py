"""Answer extraction and equivalence: one grading API shared by evaluation and training rewards.

(Skeleton: extended by the grading work.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # None = the output has no final answer ("no answer" is a value)
    reason: str | None = None  # why it is not correct: "no_answer", "timeout", "parse_error", "mismatch"


def last_boxed(text: str) -> str | None:
    """Content of the last closed ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 2``) in ``text``,
    by brace matching, as Qwen2.5-Math's ``extract_answer`` does."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    while idx >= 0:
        head = 6 if text.startswith("\\boxed", idx) else 5
        rest = text[idx + head:]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            i = idx + head + (len(rest) - len(stripped))
            depth = 0
            for j in range(i, len(text)):
                c = text[j]
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1:j].strip()
        elif rest[:1] == " " and stripped:  # "\\boxed 2$."
            token = stripped.split("$")[0].split()[0].rstrip(".,")
            if token:
                return token
        idx = max(text.rfind("\\boxed", 0, idx), text.rfind("\\fbox", 0, idx))
    return None
