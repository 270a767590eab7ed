"""The issue's quality bar on the dev set, measured by the repository's own evaluation script."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT.parent / "shared" / "data" / "pii-dev.jsonl"
ZERO_LEAK = ("CREDIT_CARD", "CVV", "SSN", "BANK_ACCOUNT", "ROUTING_NUMBER", "IBAN")


def _evaluate():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("eval_redact", ROOT / "scripts" / "eval_redact.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate


@pytest.mark.skipif(not DEV.exists(), reason=f"dev set not found at {DEV}")
def test_dev_set_meets_issue_thresholds() -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = _evaluate()(rows)
    total = result["total"]
    assert total["entities"] == 81 and total["no_pii_lines"] == 54
    assert total["leak_rate"] <= 0.02
    for kind in ZERO_LEAK:
        assert result["by_type"][kind]["leaked"] == 0, kind
    assert total["over_redaction"] <= 0.10
    assert total["no_pii_touched"] <= 5


def test_evaluation_counts_a_leak_and_over_redaction() -> None:
    rows = [{"id": "a", "channel": "caller", "text": "my card is 4111 1111 1111 1111",
             "entities": [{"start": 0, "end": 2, "type": "PERSON"}]},
            {"id": "b", "channel": "agent", "text": "nothing here", "entities": []}]
    result = _evaluate()(rows)
    assert result["total"]["leaked"] == 1
    assert result["total"]["over_redaction"] == 1.0
    assert result["by_channel"]["agent"]["no_pii_touched"] == 0
