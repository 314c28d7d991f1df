"""The answer a sentence states: ``**Answer:** James paid $75.`` -> ``75``.

A reader takes the value the sentence asserts: a short bold span first (the writer's emphasis),
else what follows the sentence's last ``is`` / ``are`` / ``equals`` / ``=``, else the whole
clause; in it, the first math span (``\\( 3 \\)``, ``$x$``) or plain value (``1,251``, ``13/15``,
``6√2``, ``$75``).  Ordinals (``8th``) and hyphenated words (``8-hour``) are not values.  A
clause with no value is returned as it is, for answers in words (``facing east``)."""

from __future__ import annotations

import re

MARKER = re.compile(
    r"^(?:\W*(?:therefore|thus|hence|so|finally|consequently|overall|in\s+(?:conclusion|summary|total)|"
    r"as\s+a\s+result)\b[\s,:]*)+", re.I)
_LEADING = re.compile(r"^\W*(?:since|because|as|if|when|after|given|comparing|looking)\b[^,]{0,200},\s*", re.I)
_COPULA = re.compile(r"\s(?:is|are|was|were|equals?|be|becomes|gives|=)\s|\s=|=\s|\\approx|≈", re.I)
_THEN = re.compile(r"[,;]\s*(?:and\s+)?(?:so|thus|therefore|hence)\b[\s,]*", re.I)  # "9 eggs, so she makes $18"
_CLAUSE_END = re.compile(r",\s*(?:because|since|which|as|where|while|but|closely)\b"
                         r"|\s(?:because|since)\s|;", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\\$(])")
_BOLD = re.compile(r"\*\*([^*\n]{1,80}?)\*\*")
_SPAN = re.compile(r"\\\((.{1,300}?)\\\)|\$\$(.{1,300}?)\$\$|(?<![\\\d])\$([^$]{1,300}?)\$|\\\[(.{1,300}?)\\\]")
_WORDY = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")  # a word outside a LaTeX command: prose, not math
_ONE = r"(?:\d[\d,]*(?:\.\d+)?!?(?:\s*/\s*\d+(?!\d))?(?:\s*√\s*\(?\d+\)?)?|√\s*\(?\d+\)?)(?:\s*π)?"
_VALUE = re.compile(  # 1,251  13/15  6√2  $75  3π  and products: 2 × 5! × 5!
    rf"(?<![\w.^_/])(?:[-−]\s?)?\\?\$?{_ONE}(?:\s*[×·^]\s*{_ONE})*(?![\w-]|\.\d)")
_WORD_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}


def latex(value: str) -> str:
    """A plain-text value written as LaTeX: ``6√2`` -> ``6\\sqrt{2}``, ``−3`` -> ``-3``, ``$75`` -> ``75``."""
    s = value.replace("−", "-").replace("π", "\\pi ").replace("×", "\\times ").replace("\\$", "").replace("$", "")
    s = re.sub(r"√\s*\(?(\d+)\)?", r"\\sqrt{\1}", s)
    return s.strip()


def _first_value(text: str) -> str | None:
    m = _SPAN.search(text)
    spans = [x for x in (m.group(m.lastindex),) if not _WORDY.search(x)] if m else []
    v = _VALUE.search(text)
    if spans and (v is None or m.start() <= v.start()):
        return spans[0].strip()
    if v:
        return latex(v.group(0))
    words = [_WORD_NUMBERS[w.lower()] for w in re.findall(r"[A-Za-z]+", text) if w.lower() in _WORD_NUMBERS]
    return words[0] if words and len(text.split()) <= 4 else None


def _bold_value(clause: str) -> str | None:
    """The last short bold span's value (``**√5 meters**`` -> ``\\sqrt{5}``; ``**east**`` -> ``east``)."""
    spans = [b.strip(" .,") for b in _BOLD.findall(clause)]
    spans = [b for b in spans if b and len(b.split()) <= 4 and not MARKER.match(b) and not b.endswith(":")]
    if not spans:
        return None
    b = spans[-1]
    return _first_value(b) or b


def last_sentence(line: str) -> str:
    """The last sentence of a line (sentences end on ``.!?`` before a capital, ``*``, ``\\``, ``$`` or ``(``)."""
    return [x for x in _SENTENCE_END.split(line) if x.strip()][-1]


def sentence_answer(sentence: str) -> tuple[str | None, str]:
    """(the value the sentence states, or None; the clause that states it)."""
    s = _LEADING.sub("", MARKER.sub("", _THEN.split(sentence.strip())[-1]).strip())
    s = _CLAUSE_END.split(s, 1)[0].strip(" .*")
    if _BOLD.fullmatch("**" + s.strip("*") + "**") and s.startswith("**") and len(s.split()) > 4:
        s = s.strip("*").strip()  # a whole sentence in bold
        s = _CLAUSE_END.split(MARKER.sub("", s), 1)[0].strip(" .*")
    bold = _bold_value(s)
    if bold is not None:
        return bold, s
    parts = _COPULA.split(s)
    after = parts[-1] if len(parts) > 1 else ""
    value = _first_value(after) if after.strip() else None
    return (value if value is not None else _first_value(s)), (after if value is not None else s).strip()
