"""Pass 1 takes the timeline from the session that captured the journal's frames: exactly what
replaying its records through a second session gave (summary, timeline, event log, alignment)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.archive.render import plan
from recorder.capture.records import CloseRecord
from recorder.capture.session import Captured, CaptureSettings
from tests.unit.archive.frames import JOURNAL, MS, PCI_TOOL, frames


@settings(max_examples=80, deadline=None)
@given(
    **JOURNAL,
    audio_content=st.booleans(),
)
def test_the_capturing_session_gives_what_a_replay_gives(steps, seed, lost, close_ms, pci, audio_content) -> None:  # type: ignore[no-untyped-def]
    journal = frames(steps, seed, lost)
    close = None if close_ms is None else CloseRecord((journal[-1][2] if journal else 0) + close_ms * MS, 1000, "bye")
    tools = (PCI_TOOL,) if pci else ()
    made = CaptureSettings(pci_tools=tools)

    replayed_events: list[bytes] = []
    records = list(Captured(journal, close, made, audio_content=audio_content))
    replayed = plan(records, close=close, pci_tools=tools, events=replayed_events.append)

    events: list[bytes] = []
    captured = Captured(journal, close, made, audio_content=audio_content)
    direct = plan(captured, close=close, pci_tools=tools, events=events.append)

    assert direct.summary == replayed.summary
    assert direct.timeline == replayed.timeline
    assert events == replayed_events
    assert direct.alignment() == replayed.alignment()
    assert direct.frames == replayed.frames == len(journal)
    assert direct.close == replayed.close == close


def test_records_made_with_other_settings_are_replayed() -> None:
    journal = frames(["configured", "caller", "response", "delta", "tool", "caller", "output", "caller"], 3, 0.0)
    captured = Captured(journal, None, CaptureSettings())  # no PCI tools: the replay must re-derive the pause
    paused = plan(captured, pci_tools=(PCI_TOOL,))
    assert paused.timeline == plan(list(Captured(journal, None, CaptureSettings())), pci_tools=(PCI_TOOL,)).timeline
    assert captured.session.timeline().pauses == ()
    assert paused.timeline.pauses  # taken from a replay with the plan's own settings
