"""What the proxy's per-frame metrics cost, against the tee they wrap, in the same run.

Run: `python bench/bench_metrics.py [--frames 20000]`

The tee of a recorded call is capture (`CaptureSession.observe`) of every forwarded message;
`metrics.counting_tee` adds a frame count, a byte count and a forwarding-time observation per
message. Both run over the same mix as the latency benchmark's calls: five 20 ms caller frames
(640 bytes of PCM) for each 200 ms agent delta (19,200 bytes). Best of five rounds each.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable

from recorder.capture.records import Direction
from recorder.capture.session import CaptureSession
from recorder.metrics import counting_tee

CALLER = json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(640)).decode()})
AGENT = json.dumps({"type": "response.output_audio.delta", "response_id": "r1", "item_id": "i1",
                    "delta": base64.b64encode(bytes(19_200)).decode()})
START = [
    (Direction.S2C, json.dumps({"type": "session.created", "session_id": "s1"})),
    (Direction.S2C, json.dumps({"type": "response.created", "response": {"id": "r1"}})),
]


def frames(n: int) -> list[tuple[Direction, str]]:
    out = list(START)
    for i in range(n):
        out.append((Direction.S2C, AGENT) if i % 6 == 5 else (Direction.C2S, CALLER))
    return out


def per_frame_us(make_tee: Callable[[CaptureSession], Callable[..., object]], mix: list[tuple[Direction, str]]) -> float:
    best = float("inf")
    for _ in range(5):
        session = CaptureSession()
        tee = make_tee(session)
        started = time.perf_counter()
        for i, (direction, message) in enumerate(mix):
            tee(direction, message, i * 20_000_000)
        best = min(best, time.perf_counter() - started)
    return best / len(mix) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    args = parser.parse_args()
    mix = frames(args.frames)
    bare = per_frame_us(lambda s: s.observe, mix)
    counted = per_frame_us(lambda s: counting_tee(s.observe, 0), mix)
    print(f"frames per round: {len(mix)}")
    print(f"capture tee alone:        {bare:6.2f} us per frame")
    print(f"capture tee with metrics: {counted:6.2f} us per frame "
          f"(+{counted - bare:.2f} us, {counted / bare:.2f}x)")


if __name__ == "__main__":
    main()
