"""Pure merge: Pulse word times on the recording timeline (§12.2), two channels into turns."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from recorder.redact import Word
from recorder.transcribe.merge import conversation_text, group_turns, merge_channels, to_timeline


@dataclass(frozen=True)
class W:
    text: str
    start_ms: float
    end_ms: float


def test_reference_example_maps_with_piece_offsets() -> None:
    # reference/pulse-stt.md §12.4: a second piece starting at sample 144000 (9.0 s) reports
    # "Sorry," at 0.86 s, which is 9860 ms on the recording.
    (sorry,) = to_timeline([W("Sorry,", 860, 1200)], "caller", piece_offset_ms=9000)
    assert (sorry.start_ms, sorry.end_ms, sorry.channel) == (9860, 10200, "caller")
    (seven,) = to_timeline([W("seven", 4520, 4800)], "caller")
    assert (seven.start_ms, seven.end_ms) == (4520, 4800)


def test_origin_and_trim_add_up_and_blank_words_are_dropped() -> None:
    words = to_timeline([W("hi", 10, 20), W("  ", 30, 40), W("there", 50, 45)], "agent",
                        channel_origin_ms=100, trim_offset_ms=5)
    assert [(w.text, w.start_ms, w.end_ms) for w in words] == [("hi", 115, 125), ("there", 155, 155)]


def test_merge_orders_by_time_and_groups_turns_by_speaker() -> None:
    caller = to_timeline([W("my", 3000, 3200), W("card", 3200, 3500), W("sorry", 6100, 6400)], "caller")
    agent = to_timeline([W("what", 500, 700), W("is", 700, 800), W("it", 800, 900), W("ok", 5000, 5200)], "agent")
    merged = merge_channels(caller, agent)
    assert [w.text for w in merged] == ["what", "is", "it", "my", "card", "ok", "sorry"]
    turns = group_turns(merged)
    assert [(t.speaker, t.text, t.start_ms, t.end_ms) for t in turns] == [
        ("agent", "what is it", 500, 900), ("caller", "my card", 3000, 3500),
        ("agent", "ok", 5000, 5200), ("caller", "sorry", 6100, 6400)]
    assert (turns[1].first_word, turns[1].last_word) == (3, 4)
    assert conversation_text(turns).splitlines()[1] == "caller: my card"
    assert "card" not in repr(turns[1])


def test_ties_put_the_caller_first() -> None:
    merged = merge_channels([Word("b", 100, 200, "agent")], [Word("a", 100, 200, "caller")])
    assert [w.channel for w in merged] == ["caller", "agent"]


times = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 500)), max_size=30)


@given(times, times)
def test_merge_keeps_every_word_once_in_time_order(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    caller = to_timeline([W(f"c{i}", s, s + d) for i, (s, d) in enumerate(sorted(a))], "caller")
    agent = to_timeline([W(f"a{i}", s, s + d) for i, (s, d) in enumerate(sorted(b))], "agent")
    merged = merge_channels(caller, agent)
    assert sorted(w.text for w in merged) == sorted(w.text for w in caller + agent)
    assert [w.start_ms for w in merged] == sorted(w.start_ms for w in merged)
    assert [w.text for w in merged if w.channel == "caller"] == [w.text for w in caller]
    turns = group_turns(merged)
    assert sum(t.last_word - t.first_word + 1 for t in turns) == len(merged)
    assert all(x.speaker != y.speaker for x, y in zip(turns, turns[1:]))
