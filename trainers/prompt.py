"""``prompt``: the paper's fast-solving prompt baseline, no training.

The reference prompt plus the suffix "\\nBe confident. Solving this problem quickly with less
pause, stop or reflection." (``pruneeval.prompts.FAST_SOLVING_SUFFIX``)."""

from pruneeval.prompts import FAST_SOLVING_SUFFIX


class Prompt:
    name = "prompt"
    trains = False
    suffix = FAST_SOLVING_SUFFIX
