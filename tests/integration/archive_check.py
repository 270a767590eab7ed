"""Read a finished call's archive back the way an auditor with the archive identity would."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recorder.archive.render import decode_flac
from recorder.archive.store import ArchiveStore
from recorder.crypto import age
from recorder.crypto.keys import KeyStore


@dataclass
class OpenedArchive:
    path: Path
    stereo: np.ndarray
    unplayed: np.ndarray | None
    events: list[dict[str, Any]]
    alignment: dict[str, Any]
    manifest: dict[str, Any]


def open_only_archive(home: Path) -> OpenedArchive:
    (path,) = ArchiveStore(home).list()
    identities = KeyStore(home / "keys").identities("archive")

    def plain(name: str) -> bytes:
        return age.decrypt((path / name).read_bytes(), identities, name=name)

    stereo, _ = decode_flac(plain("recording.flac.age"))
    unplayed = decode_flac(plain("unplayed.flac.age"))[0] if (path / "unplayed.flac.age").exists() else None
    events = [json.loads(line) for line in plain("events.jsonl.age").splitlines() if line]
    return OpenedArchive(
        path, stereo, unplayed, events, json.loads(plain("alignment.json.age")),
        json.loads((path / "manifest-0001.json").read_bytes()),
    )


def pcm_of(messages: list[str | bytes], frame_type: str, field: str) -> list[bytes]:
    out = []
    for message in messages:
        if isinstance(message, str) and f'"{frame_type}"' in message:
            frame = json.loads(message)
            if frame.get("type") == frame_type:
                out.append(base64.b64decode(frame[field]))
    return out


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    reference = reference.astype(np.float64)
    noise = reference - test.astype(np.float64)
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum(noise**2), 1e-9)))
