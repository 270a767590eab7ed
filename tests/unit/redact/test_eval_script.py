"""The evaluation script's arithmetic, on rows made here (the quality bar on generated lines is
in test_generalisation.py; nothing outside the repository is read)."""

from __future__ import annotations

from tests.unit.redact.corpus import eval_redact


def test_evaluation_counts_a_leak_and_over_redaction() -> None:
    rows = [{"id": "a", "channel": "caller", "text": "my card is 4111 1111 1111 1111",
             "entities": [{"start": 0, "end": 2, "type": "PERSON"}]},
            {"id": "b", "channel": "agent", "text": "nothing here", "entities": []}]
    result = eval_redact.evaluate(rows)
    assert result["total"]["leaked"] == 1
    assert result["total"]["over_redaction"] == 1.0
    assert result["by_channel"]["agent"]["no_pii_touched"] == 0


def test_a_covered_entity_is_no_leak_and_the_gap_is_held_minus_tune() -> None:
    rows = [{"id": "a", "text": "my ssn is 123-45-6789", "entities": [{"start": 10, "end": 21, "type": "SSN"}]}]
    result = eval_redact.evaluate(rows)
    assert result["total"]["leaked"] == 0 and result["by_type"]["SSN"]["type_accuracy"] == 1.0
    both = eval_redact.evaluate_splits(200, 5, "strict")
    gap = 100 * (both["held"]["total"]["leak_rate"] - both["tune"]["total"]["leak_rate"])
    assert both["gap_points"] == gap
