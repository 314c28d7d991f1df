"""Chat messages per model preset, and the method suffixes (fast-solving prompt)."""

from __future__ import annotations

from .engines.base import Messages

# The paper's fast-solving prompt baseline: the reference prompt plus this suffix (DESIGN.md).
FAST_SOLVING_SUFFIX = "\nBe confident. Solving this problem quickly with less pause, stop or reflection."
# TALE (Han et al. 2024): the token budget in the prompt.
TALE_SUFFIX = "\nLet's think step by step and use less than {budget} tokens:"
# Chain of Draft (Xu et al. 2025), its answer separator replaced by \boxed{}.
DRAFT_SUFFIX = ("\nThink step by step, but only keep a minimum draft for each thinking step, with 5 words at most. "
                "Return the final answer within \\boxed{} at the end of the response.")


def build_messages(question: str, system_prompt: str, user_template: str, suffix: str = "") -> Messages:
    """The chat messages for one problem: optional system turn, then the user turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user_template.replace("{question}", question) + suffix})
    return messages
