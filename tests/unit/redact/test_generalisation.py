"""The quality bar on generated lines the engine was never fitted to, and the generator's split.

The held-back split shares no template family, name, street, town, mail domain or number
rendering with the tuning split; most of its names are in no list the engine ships.
"""

from __future__ import annotations

from recorder.redact.vocabulary import names, ordinary
from tests.unit.redact.corpus import eval_redact, pii_corpus

ZERO_LEAK = ("CREDIT_CARD", "CVV", "SSN", "BANK_ACCOUNT", "ROUTING_NUMBER", "IBAN")


def test_generator_is_seeded_and_its_gold_spans_sit_on_words() -> None:
    first = pii_corpus.generate("held", 400, seed=7)
    assert first == pii_corpus.generate("held", 400, seed=7)
    assert first != pii_corpus.generate("held", 400, seed=8)
    types = set()
    for line in first + pii_corpus.generate("tune", 400, seed=7):
        for start, end, kind in line.entities:
            value = line.text[start:end]
            assert value == value.strip() and value[0].isalnum() and value[-1].isalnum(), (kind, start, end)
            types.add(kind)
    assert len(types) == 16


def test_splits_share_no_vocabulary_and_no_template() -> None:
    tune, held = pii_corpus.VOCAB["tune"], pii_corpus.VOCAB["held"]
    for field in ("given", "surnames", "streets", "cities", "domains"):
        assert not set(getattr(tune, field)) & set(getattr(held, field)), field
    assert not set(tune.number_styles) & set(held.number_styles) - {"single", "filler_inside"}
    for kind, templates in pii_corpus.TEMPLATES["held"].items():
        assert not set(templates) & set(pii_corpus.TEMPLATES["tune"].get(kind, [])), kind


def test_most_held_back_names_are_in_no_list_the_engine_ships() -> None:
    held = set(pii_corpus.VOCAB["held"].given) | set(pii_corpus.VOCAB["held"].surnames)
    unknown = {n for n in held if n not in names() and n not in ordinary()}
    ambiguous = {n for n in held if n in names() and n in ordinary()}
    assert len(unknown) >= 0.6 * len(held)
    assert {"mark", "grace", "bill", "may", "king"} <= ambiguous


def test_both_splits_meet_the_bar_and_agree() -> None:
    both = eval_redact.evaluate_splits(3000, 20261129, "strict")
    for split in ("tune", "held"):
        total = both[split]["total"]
        assert total["entities"] > 2000 and total["no_pii_lines"] > 800
        assert total["leak_rate"] <= 0.03, (split, total["leak_rate"])
        assert total["over_redaction"] <= 0.08, (split, total["over_redaction"])
        for kind in ZERO_LEAK:
            assert both[split]["by_type"][kind]["leaked"] == 0, (split, kind)
    assert abs(both["gap_points"]) <= 2.0


def test_balanced_policy_redacts_less_and_still_holds_the_zero_leak_types() -> None:
    strict = eval_redact.evaluate(pii_corpus.rows("held", 1500, 3), "strict")
    balanced = eval_redact.evaluate(pii_corpus.rows("held", 1500, 3), "balanced")
    assert balanced["total"]["leaked"] >= strict["total"]["leaked"]
    for kind in ZERO_LEAK:
        assert balanced["by_type"][kind]["leaked"] == 0, kind
