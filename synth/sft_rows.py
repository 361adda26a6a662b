"""Rows of an SFT set: checking a conversation, and the parts of it the set is composed by (its prompt,
its answer, its domain)."""

from __future__ import annotations

ROLES = ("system", "user", "assistant")
DOMAIN_OF_FORMAT = {"gsm8k": "math", "math": "math", "mbpp": "code", "humaneval": "code", "leetcode": "code"}


def conversation_problem(messages: object) -> str | None:
    """Why `messages` cannot be a training conversation, or None: a list of {role, content} with known
    roles and string contents, at least one user turn, ending with a non-empty assistant turn."""
    if not isinstance(messages, list) or not messages:
        return "no messages"
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict) or not isinstance(turn.get("role"), str):
            return f"turn {i} has no role"
        if turn["role"] not in ROLES:
            return f"turn {i} has role {turn['role']!r}; expected one of {', '.join(ROLES)}"
        if not isinstance(turn.get("content"), str):
            return f"turn {i} ({turn['role']}) has no text content"
    if not any(t["role"] == "user" for t in messages):
        return "no user turn"
    if messages[-1]["role"] != "assistant":
        return f"the last turn is {messages[-1]['role']!r}, not the assistant's"
    if not messages[-1]["content"].strip():
        return "the assistant turn is empty"
    return None


def prompt_text(messages: list[dict]) -> str:
    """The user turns: what prompt-level dedup and the split compare."""
    return "\n\n".join(t["content"] for t in messages if t["role"] == "user")


def answer_text(messages: list[dict]) -> str:
    return messages[-1]["content"]


def domain_of(declared: str, fmt: object) -> str:
    """A reasoning sample's domain: the source's, or (auto) the problem format's."""
    if declared != "auto":
        return declared
    return DOMAIN_OF_FORMAT.get(fmt, "other") if isinstance(fmt, str) else "other"
