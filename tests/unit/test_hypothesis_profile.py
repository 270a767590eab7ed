"""The project's Hypothesis profiles: CI is derandomized (never passes or fails by luck)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import tests.conftest; from hypothesis import settings; d = settings.default; "
         "print(d.derandomize, d.database is None)")


def loaded(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env, "PYTHONPATH": str(ROOT)},
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("env", "expected"), [
    ({"CI": "true"}, "True True"),
    ({"CI": "1"}, "True True"),
    ({}, "False False"),
    ({"CI": "false"}, "False False"),
    ({"HYPOTHESIS_PROFILE": "ci"}, "True True"),
    ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "False False"),
])
def test_ci_loads_the_derandomized_profile(env: dict[str, str], expected: str) -> None:
    assert loaded(**env) == expected


def test_ci_script_selects_the_ci_profile() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "HYPOTHESIS_PROFILE=ci" in script and "CI=true" in script
