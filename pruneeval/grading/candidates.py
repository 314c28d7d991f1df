"""Every answer an output states on its way, and where it ends: the candidates behind the
overthinking metrics (``pruneeval.overthinking``), read with the final-answer extractor's own pieces.

A candidate is, anywhere in the output (thinking included):

- a ``\\boxed{}`` (``boxed.boxed_spans``); it ends at its closing brace;
- a final-answer phrase (``the answer is 5``, ``**Answer:** 5``, ``Final Answer: 5``), read as the
  extractor reads the last one (``extract.phrase_spans``); it ends where its answer ends.  A phrase
  whose answer is a box right after it (``The final answer is \\boxed{5}``) is that box; ``####``
  counts only before a plain number (``#### 72``; else it is a markdown heading); the first
  ``MAX_PHRASES`` phrases are read;
- the conclusion of a solution round: a paragraph's last sentence that starts with a conclusion word
  (``Therefore``, ``Thus``, ``So``, ``Hence``, ...: ``sentences.MARKER``) and states a value
  (``sentences.sentence_answer``), where the next paragraph starts over (``Wait``, ``But``,
  ``Alternatively``, ``Hmm``, ``Let me check``, ``**Final Answer**``, ...), the thinking closes or the
  output ends; it ends at the end of that sentence.

In the toy world (``toy=True``) a round also concludes at the last step line of a pass
(``Step 3: 9 - 6 = 3`` not followed by another step or by ``Wait, that's wrong.``) and at each
re-check line (``Wait, let me verify: ..., 9 - 6 = 3. Correct.``, which ends after ``Correct.``).

Candidates ending at the same character are one.  ``rounds`` counts solution rounds: the distinct
positions of candidates, where candidates with only headings, punctuation, LaTeX and whitespace
between them (``the answer is 5.`` then ``**Final Answer** \\boxed{5}``) are one position."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Sequence

from ..boxed import boxed_spans
from .extract import _THINK_END, as_text, phrase_spans
from .sentences import MARKER, last_sentence, sentence_answer

MAX_PHRASES = 1000  # final-answer phrases read per output (a degenerate loop repeats one thousands of times)
_PARAGRAPH_END = re.compile(rf"\n[ \t]*\n|(?={_THINK_END.pattern})", re.I)
_RESTART = re.compile(  # how a paragraph that starts a new round (or states the final answer) begins
    r"^[\W_]*(?:wait|but|however|alternatively|hmm+|hold\s+on|actually|double[-\s]?check|verif|check(?:ing)?\b|"
    r"final\s+answer|another\s+(?:way|approach|method)|"
    r"(?:let\s+me|let's|let\s+us|to|i(?:'ll|\s+will|\s+should|\s+need\s+to)?)\s+(?:also\s+)?"
    r"(?:double[-\s]?check|check|verify|confirm|make\s+sure|re[-a-z]+|try|think|see|go\s+back))", re.I)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
# what may stand between the parts of one statement: headings, LaTeX commands, no words
_GLUE = re.compile(r"\*\*[^*\n]{0,40}\*\*|\bfinal\s+answer\b|\\[a-zA-Z]+|[^A-Za-z]", re.I)


_TOY_STEP = re.compile(r"^Step \d+: [^\n]*= (-?\d+)$", re.M)
_TOY_CHECK = re.compile(r"^Wait, let me verify: [^\n]*= (-?\d+)\. Correct\.$", re.M)


@dataclass(frozen=True)
class Candidate:
    start: int  # where the statement starts in the output (``as_text(output)``)
    end: int  # where its answer ends: ``output[:end]`` holds it
    answer: str
    kind: str  # "boxed" | "phrase" | "conclusion"


def _is_glue(text: str) -> bool:
    return not _GLUE.sub("", text)


def _conclusions(text: str) -> list[Candidate]:
    out, start = [], 0
    bounds = [m.start() for m in _PARAGRAPH_END.finditer(text)] + [len(text)]
    for i, stop in enumerate(bounds):
        para, begin = text[start:stop].rstrip(), start
        start = stop
        lines = [x for x in para.splitlines() if x.strip()]
        if not lines:
            continue
        nxt = text[stop:bounds[i + 1] if i + 1 < len(bounds) else len(text)].strip()
        if nxt and not _THINK_END.match(nxt) and not _RESTART.match(nxt):
            continue
        sentence = last_sentence(lines[-1].strip())
        if not MARKER.match(sentence):
            continue
        value, _ = sentence_answer(sentence)
        if value is not None:
            out.append(Candidate(begin + len(para) - len(sentence.rstrip()), begin + len(para), value, "conclusion"))
    return out


def _toy_conclusions(text: str) -> list[Candidate]:
    # each starts at its value: the line before it is the round's reasoning
    out = [Candidate(m.start(1), m.end(), m.group(1), "conclusion") for m in _TOY_CHECK.finditer(text)]
    for m in _TOY_STEP.finditer(text):
        following = text[m.end() + 1:].split("\n", 1)[0]
        if not following.startswith(("Step ", "Wait, that's wrong")):  # the last step of a pass, not retracted
            out.append(Candidate(m.start(1), m.end(), m.group(1), "conclusion"))
    return out


def candidates(output, parts: int = 1, words: bool = False, toy: bool = False) -> list[Candidate]:
    """The candidate answers of ``output`` in order of their ends (see the module's docstring);
    ``parts`` and ``words`` as ``extract.extract`` takes them (from the gold); ``toy``: an output of
    the toy world, whose rounds end in step and re-check lines."""
    text = as_text(output)
    boxes = [Candidate(s, e, a, "boxed") for s, e, a in boxed_spans(text) if a]
    found, starts = list(boxes), [b.start for b in boxes]
    for start, phrase_end, end, answer in phrase_spans(text, parts, words, MAX_PHRASES):
        if answer is None or "\\boxed" in answer or "\\fbox" in answer or not re.search(r"\w", answer):
            continue
        if text.startswith("####", start) and not _NUMBER.fullmatch(answer):
            continue  # a markdown heading ("#### \\( n = 3 \\)"), not GSM8K's "#### 72"
        at = bisect_left(starts, phrase_end)
        if at < len(starts) and starts[at] - phrase_end <= 200 and _is_glue(text[phrase_end:starts[at]]):
            continue  # "The final answer is \\boxed{5}": the box is the candidate
        found.append(Candidate(start, end, answer, "phrase"))
    found += _conclusions(text) + (_toy_conclusions(text) if toy else [])
    by_end: dict[int, Candidate] = {}
    for c in sorted(found, key=lambda c: (c.end, c.kind != "boxed")):
        by_end.setdefault(c.end, c)
    return list(by_end.values())


def round_of(text: str, cands: Sequence[Candidate]) -> list[int]:
    """The solution round (0, 1, ...) of each candidate: a new one starts after any reasoning text."""
    text = as_text(text)
    out, r = [], -1
    for i, c in enumerate(cands):
        if i == 0 or not _is_glue(text[cands[i - 1].end:max(c.start, cands[i - 1].end)]):
            r += 1
        out.append(r)
    return out


def rounds(text: str, cands: Sequence[Candidate]) -> int:
    """How many solution rounds the output has: its distinct candidate positions (module docstring)."""
    return len(set(round_of(text, cands)))
