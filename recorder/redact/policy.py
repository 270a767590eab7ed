"""Redaction policies: how far an answer to a sensitive question is redacted.

`strict` (the default for stored transcripts): once the agent has asked for a sensitive value,
the caller's answer is redacted as that value from its first content word to the end of the
answer, however it is worded, as long as it says something value-like (digits, spelled letters,
a word that is not ordinary English). `balanced`: only the values the detectors find in the
answer are redacted; the words around them stay readable.
"""

from __future__ import annotations

from recorder.errors import RedactionError

STRICT, BALANCED = "strict", "balanced"
POLICIES = (STRICT, BALANCED)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise RedactionError(f"unknown redaction policy {policy!r}: use one of {', '.join(POLICIES)}")
    return policy
