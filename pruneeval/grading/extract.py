"""Answer extraction: the final answer an output states, or None ("no answer").

Only finished work has an answer.  The answer section is the text after the thinking
(``</think>``, ``</Thought>``, ``<|end_of_thought|>``), else the whole output; thinking that was
opened and never closed has no answer.  The output counts as cut off when the engine says it
stopped on the length limit (``finish_reason="length"``) or, with no finish reason, when its
text stops mid-sentence with no answer at its end.  A cut-off output has an answer only when its
thinking closed on one (``**Final Answer** \\boxed{699} </think>`` and the summary after it cut
off): the answer the thinking concluded.  In a finished answer section, in order: the last
``\\boxed{}``; else what follows the last final-answer phrase (``The final answer is``,
``Answer:``, ``####``), reduced to the value its sentence states; else the conclusion (the last
sentence that starts with ``Therefore``/``Thus``/``So``... in the final paragraph, else the
final sentence; closing pleasantries skipped), reduced the same way; else, for GSM8K and toy,
the last number of the last line."""

from __future__ import annotations

import re
from itertools import islice

from ..boxed import all_boxed
from .sentences import MARKER, last_sentence, sentence_answer

TAIL_CHARS = 8000  # only the end of the answer section is searched for the final answer
THINK_TAIL = 1500  # the end of a closed thinking searched for the answer it concluded

_THINK_END = re.compile(r"</think>|</thought>|<\|end_of_thought\|>|</reasoning>", re.I)
_THINK_OPEN = re.compile(r"<think>|<thought>|<\|begin_of_thought\|>|<reasoning>", re.I)
_PHRASE = re.compile(
    r"(?:\bfinal\s+answer\b[^\n:]{0,20}?(?:\bis\b|:)|\*\*final\s+answer\*\*|"
    r"\bthe\s+(?:correct\s+)?(?:answer|option|choice)\s+(?:is|should\s+be|would\s+be)\b|"
    r"\banswer\s*(?:\*\*)?\s*:|####)[\s*:]*", re.I)
_SPAN = r"(?:\$\$?[^$]+\$\$?|\\\(.+?\\\)|\\\[.+?\\\])"
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")
_CHOICE = re.compile(r"^[\s(\[{*]*(?:\\(?:text|textbf|mathrm)\s*\{\s*\(?)?\(?([A-K])(?![A-Za-z])")
_CHOICE_ANY = re.compile(r"\(([A-K])\)|\b(?:option|choice)\s+\(?([A-K])\b")
_FINISHED_END = tuple(".!?$}])*\"'”’")
_WRAPPER_TAG = re.compile(r"</?(?:output|answer|summary|solution)>|<\|(?:begin|end)_of_solution\|>|<\|im_end\|>", re.I)
_PLEASANTRY = re.compile(r"^\W*(?:let\s+me\s+know|i\s+hope|hope\s+(?:this|that)|feel\s+free|if\s+you\s+have|"
                         r"please\s+(?:let|feel)|do\s+you\s+(?:want|have)|would\s+you\s+like)", re.I)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\([A-K]\))\s+")
_HEADING = re.compile(r"^\W*(?:\*\*[^*\n]{0,60}\*\*|[^\n]{0,60}:)\W*$")  # "**Conclusion:**"
_DISPLAY = re.compile(r"^\s*(?:\\\[(.+?)\\\]|\$\$(.+?)\$\$|\\\((.+?)\\\)|\$([^$]+)\$)\s*\.?\s*$", re.S)


def as_text(s) -> str:
    """Any str (lone surrogates included), bytes or None -> valid text."""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s).decode("utf-8", "replace")
    return "" if s is None else str(s).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def split_thinking(text: str) -> tuple[str, str, bool] | None:
    """(end of the thinking, answer section, whether a thinking delimiter closed the thinking);
    None if thinking was opened and never closed."""
    end = None
    for end in _THINK_END.finditer(text):
        pass
    if end is not None:
        answer = _WRAPPER_TAG.sub("", text[end.end():][-TAIL_CHARS:])
        return text[max(0, end.start() - THINK_TAIL):end.start()], answer, True
    return None if _THINK_OPEN.search(text) else ("", _WRAPPER_TAG.sub("", text[-TAIL_CHARS:]), False)


def _last(pattern: re.Pattern, text: str):
    m = None
    for m in pattern.finditer(text):
        pass
    return m


def phrase_answer(text: str, parts: int = 1, words: bool = False) -> tuple[str | None, bool]:
    """What follows the last final-answer phrase (its math span, or the value its sentence states;
    with ``words``, the sentence), and whether only punctuation follows it (the output ends with it)."""
    m = _last(_PHRASE, text)
    if m is None:
        return None, False
    ans, _, ends = phrase_at(text, m, parts, words)
    return ans, ends


def phrase_spans(text: str, parts: int = 1, words: bool = False,
                 limit: int | None = None) -> list[tuple[int, int, int, str | None]]:
    """(start, end of the phrase, end of its answer, answer) of every final-answer phrase in
    ``text`` (the first ``limit``), each read as ``phrase_answer`` reads the last one."""
    out = []
    for m in islice(_PHRASE.finditer(text), limit):
        ans, end, _ = phrase_at(text, m, parts, words)
        out.append((m.start(), m.end(), end, ans))
    return out


def phrase_at(text: str, m: re.Match, parts: int = 1, words: bool = False) -> tuple[str | None, int, bool]:
    """(the answer the phrase ``m`` states, where that answer ends in ``text``, whether only
    punctuation follows it)."""
    rest = text[m.end():m.end() + 400]
    rest = rest if rest.split("\n", 1)[0].strip() else rest.lstrip()  # "**Final Answer**\n\n18"
    start = m.end() + min(400, len(text) - m.end()) - len(rest)
    line = rest.split("\n", 1)[0].strip()
    math = re.match(rf"{_SPAN}(?:\s*(?:,|\bor\b|\band\b)\s*{_SPAN})*" if parts > 1 else _SPAN, line)
    if math:
        used = math.group(0)
        ans = re.sub(r"(?<!\\)\$|\\[()[\]]", "", used)
    else:
        cut = r"(?<!\d)\.(?!\d)|\.(?=\s|$)|[;?]|(?<!\d)!" + ("" if parts > 1 else r"|,\s")
        used = re.split(cut, line)[0]
        num = re.match(r"^\\?\$?\s*(-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?)(?=\s|$)", used)
        ans = num.group(1) if num else used
        if num is None and re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", used):  # "James paid $75"
            used = re.split(r"(?<!\d)\.(?!\d)|\.(?=\s|$)|[;?]|(?<!\d)!", line)[0]
            value, clause = sentence_answer(used)
            ans = value if value is not None and not words else clause
    end = rest.find(used) + len(used)
    after = rest[end:]
    return ((ans.strip(" *") or None) if ans else None), start + end, not re.sub(r"[\s.!*$\\)\]}]", "", after)


def _final_lines(section: str) -> list[str]:
    """The non-empty lines of the section's last paragraphs, closing pleasantries dropped."""
    lines = [x.strip() for x in section[-3000:].splitlines() if x.strip() and not re.fullmatch(r"[-*_=#\s]+", x)]
    while lines and _PLEASANTRY.match(lines[-1]):
        lines.pop()
    return lines


def conclusion(section: str) -> tuple[str | None, str]:
    """(the value the output's conclusion states, or None; the conclusion's sentence): the final
    sentence of the final line, else the last one there starting with ``Therefore``/``Thus``/``So``."""
    lines = _final_lines(section)
    if not lines:
        return None, ""
    last = lines[-1]
    shown = _DISPLAY.match(last)
    if shown:  # a display as the last line: "\\[ r = \\sqrt{5} \\]"
        body = next(g for g in shown.groups() if g is not None)
        return re.split(r"=|\\approx", body)[-1].strip() or None, body
    if _HEADING.match(last) and not re.search(r"\d", last):
        return None, ""
    sentence = last_sentence(last)
    value, _ = sentence_answer(sentence)
    if _ITEM.match(last) and not MARKER.match(_ITEM.sub("", sentence)) and "**" not in sentence:
        return None, ""  # a list item is a step, not a conclusion, unless it says so
    return value, sentence


def thinking_conclusion(thinking: str, parts: int) -> str | None:
    """The answer a closed thinking ended on: a ``\\boxed{}`` or final-answer phrase in its last lines."""
    lines = [x for x in thinking.splitlines() if x.strip()][-4:]
    end = "\n".join(lines)
    boxed = all_boxed(end)
    if boxed:
        return boxed[-1]
    ans, _ = phrase_answer(end, parts)
    return ans


def ends_finished(section: str) -> bool:
    """Whether the text ends like finished work: on ``.!$}])*`` or an answer phrase's answer."""
    tail = section.rstrip()
    last = tail[tail.rfind("\n") + 1:]
    if tail.endswith("..") or last.count("**") % 2:  # trailing off, or inside a bold span
        return False
    return tail.endswith(_FINISHED_END) or phrase_answer(tail[-600:])[1]


def _ends_on_box(section: str) -> bool:
    """Whether the text ends on a closed ``\\boxed{}`` and at most a few words (``\\boxed{18} dollars``)."""
    at = section.rfind("\\boxed", max(0, len(section) - 400))
    depth, rest = 0, None
    for j in range(at + 6, len(section) if at >= 0 else 0):
        depth += (section[j] == "{") - (section[j] == "}")
        if depth == 0 and section[j] == "}":
            rest = section[j + 1:]
            break
    if rest is None:
        return False
    return not re.sub(r"[\s.!$\\)\]}*]", "", rest) or (len(re.findall(r"[A-Za-z]+", rest)) <= 3
                                                         and rest.rstrip().endswith(_FINISHED_END))


def choice_letter(candidate: str | None, fallback_text: str) -> str | None:
    """An option letter from the extracted answer (``B``, ``(B) 5``, ``\\text{(B)}``), else the last
    ``(B)`` / ``option B`` in the answer (or, with no answer, in ``fallback_text``)."""
    m = _CHOICE.match(candidate) if candidate is not None else None
    if m:
        return m.group(1)
    hits = _CHOICE_ANY.findall(candidate if candidate is not None else fallback_text)
    return (hits[-1][0] or hits[-1][1]) if hits else None


def extract(output, fam: str, gold_parts: int = 1, choice: bool = False, finish_reason: str | None = None,
            words: bool = False) -> str | None:
    """The final answer of ``output`` (see the module's docstring), or None.

    ``gold_parts``: how many answers the gold lists (that many last boxes are joined);
    ``choice``: return an option letter (A-K); ``words``: the gold is a word, so an answer in
    words keeps its clause (``facing east``); ``finish_reason``: the engine's ("stop",
    "length"), None when unknown."""
    found = split_thinking(as_text(output))
    if found is None:
        return None
    thinking, section, delimited = found
    cut = finish_reason == "length" or (finish_reason is None and not section.strip() and delimited)
    if not cut and finish_reason is None and not ends_finished(section):
        cut = not _ends_on_box(section)
    if cut:
        ans = thinking_conclusion(thinking, gold_parts) if delimited else None
        return (choice_letter(ans, "") or ans) if choice else ans
    boxed = all_boxed(section)
    ans = None
    if boxed:
        several = gold_parts > 1 and count_parts(boxed[-1]) < gold_parts
        ans = ", ".join(boxed[-gold_parts:]) if several else boxed[-1]
    said = ""  # the sentence an answer in words or an option letter is read from
    if ans is None:
        final = section[-3000:] if delimited else "\n".join(_final_lines(section)[-4:])
        ans, _ = phrase_answer(final, gold_parts, words)
    if ans is None:
        ans, said = conclusion(section)
        ans = said if words and said else ans
    if choice:  # an answer without a letter stays itself (graded "mismatch")
        return choice_letter(ans, "") or choice_letter(said or None, "") or ans
    if ans is None and fam in ("gsm8k", "toy"):
        last = section.rstrip().rsplit("\n", 1)[-1]
        nums = _NUMBER.findall(last)
        ans = nums[-1] if nums else None
    return ans


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def count_parts(s: str) -> int:
    """How many answers a gold lists (``48, 384``; ``5 or 9``): top-level commas, ``or``, ``and``."""
    s = re.sub(r"\$|\\[!,;: ]", "", s)
    if _THOUSANDS.fullmatch(s.strip()):
        return 1
    s = re.sub(r"\\text\s*\{\s*(?:or|and)\s*\}|\s(?:or|and)\s", ",", s)
    depth, n = 0, 1
    for c in s:
        depth += (c in "([{") - (c in ")]}")
        n += c == "," and depth <= 0
    return n
