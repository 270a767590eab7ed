"""The forwarding process's modules do not load what finalization needs (it runs elsewhere)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "soxr", "soundfile", "sqlalchemy", "alembic", "recorder.archive.render",
         "recorder.archive.finalize", "recorder.archive.pipeline", "recorder.db.write")


def test_the_forwarding_path_imports_no_renderer_and_no_database() -> None:
    code = (
        "import sys, recorder.proxy.run, recorder.proxy.server, recorder.proxy.startup\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
