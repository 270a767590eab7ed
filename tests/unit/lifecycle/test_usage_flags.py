"""The reconciliation flags of the usage rollup."""

from __future__ import annotations

from recorder.db.usage import ResponseUsage, tokens_implausible, usage_missing


def test_usage_missing_without_response_done_or_without_usage() -> None:
    done = ResponseUsage("completed", 10, 5, 15)
    assert not usage_missing([done, ResponseUsage("cancelled", 3, 0, 3)])
    assert usage_missing([done, ResponseUsage(None, None, None, None)])  # no response.done
    assert usage_missing([ResponseUsage("completed", None, None, None)])  # done without usage
    assert not usage_missing([])


def test_tokens_implausible_for_the_agent_audio() -> None:
    assert not tokens_implausible(25 * 60, 60_000)  # 25 tokens per second of audio
    assert tokens_implausible(0, 60_000)  # a minute of audio for nothing
    assert tokens_implausible(301 * 10, 10_000)  # far more than any voice
    assert not tokens_implausible(40, 0)  # a tool call costs tokens without audio
    assert tokens_implausible(5000, 500)
