"""PCI pause on the live path: what the journal keeps of a caller frame while a payment tool runs.

The forwarding path journals raw frames and parses nothing, but a caller's card digits said
while a tool named in ``pci_tools`` is in flight must never reach the disk, even sealed. So
when (and only when) ``pci_tools`` is configured, the tee runs every frame through a
``CaptureSession`` with the same rules the archive's replay applies, and journals the caller's
audio frames of a pause with their PCM replaced by silence of the same length. The client's
frame is forwarded to Hydra unchanged; only the journaled copy differs. The replay then derives
the same pause (same rules, same frames) and its audio is already silence.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable

from recorder.capture.session import CaptureSession
from recorder.hydra.codec import b64decode
from recorder.hydra.events import InputAudioAppend
from recorder.values import Direction


class PciGate:
    """Decides, frame by frame, what the journal keeps while PCI pauses apply (pure)."""

    def __init__(self, pci_tools: Iterable[str], *, gap_threshold_ms: float) -> None:
        self._capture = CaptureSession(gap_threshold_ms=gap_threshold_ms, pci_tools=pci_tools)

    def journaled(self, direction: Direction, message: str | bytes, arrival_ns: int) -> str | bytes:
        """``message`` as the journal must keep it: unchanged, or a caller audio frame silenced."""
        self._capture.observe(direction, message, arrival_ns)
        if direction is not Direction.C2S or not self._capture.pci_paused or not isinstance(message, str):
            return message
        if InputAudioAppend.TYPE not in message:
            return message
        return silenced(message)


def silenced(message: str) -> str:
    """An ``input_audio_buffer.append`` frame with the same fields and its audio all zeros."""
    try:
        event = json.loads(message)
        pcm = b64decode(event["audio"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return message  # not audio capture can read: it records none from it either
    if not isinstance(event, dict) or event.get("type") != InputAudioAppend.TYPE:
        return message
    event["audio"] = base64.b64encode(bytes(len(pcm))).decode("ascii")
    return json.dumps(event, separators=(",", ":"))
