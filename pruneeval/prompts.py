"""Chat messages per model preset, and the method suffixes (fast-solving prompt)."""

from __future__ import annotations

from .engines.base import Messages

# The paper's fast-solving prompt baseline: the reference prompt plus this suffix (DESIGN.md).
FAST_SOLVING_SUFFIX = "\nBe confident. Solving this problem quickly with less pause, stop or reflection."


def build_messages(question: str, system_prompt: str, user_template: str, suffix: str = "") -> Messages:
    """The chat messages for one problem: optional system turn, then the user turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user_template.replace("{question}", question) + suffix})
    return messages
