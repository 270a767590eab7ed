"""The streaming age writer gives the very bytes of one-shot encryption, and rage opens them."""

from __future__ import annotations

import io
import os

import numpy as np
import pyrage
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.crypto import age
from tests.unit.crypto.conftest import FixedRng

CHUNK = age.CHUNK_SIZE
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]
IDENTITY = age.Identity.from_secret(bytes(range(32)))


def _write(pieces: list[bytes], seed: bytes) -> bytes:
    out = io.BytesIO()
    out.write(b"prefix")  # the age file need not start at offset 0 of its destination
    with age.AgeWriter(out, [IDENTITY.recipient], rng=FixedRng(seed)) as w:
        for p in pieces:
            assert w.write(p) == len(p)
    assert out.tell() == len(out.getvalue())
    return out.getvalue()[len(b"prefix") :]


@pytest.mark.parametrize("size", SIZES)
def test_streamed_bytes_equal_one_shot_and_open_with_pyrage(size: int) -> None:
    plaintext = os.urandom(size)
    streamed = _write([plaintext[i : i + 1000] for i in range(0, size, 1000)], b"s")
    assert streamed == age.encrypt(plaintext, [IDENTITY.recipient], rng=FixedRng(b"s"))
    them = pyrage.x25519.Identity.from_str(IDENTITY.secret_str())
    assert pyrage.decrypt(streamed, [them]) == plaintext


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3 * CHUNK), max_size=6),
    patches=st.lists(st.tuples(st.integers(0, CHUNK), st.binary(min_size=1, max_size=64)), max_size=4),
)
def test_rewrites_of_the_first_chunk_land_in_the_output(sizes: list[int], patches: list[tuple[int, bytes]]) -> None:
    plain = bytearray(os.urandom(sum(sizes)))
    out = io.BytesIO()
    with age.AgeWriter(out, [IDENTITY.recipient], rng=FixedRng(b"p")) as w:
        at = 0
        for n in sizes:
            w.write(plain[at : at + n])
            at += n
        for offset, data in patches:
            if offset + len(data) > min(len(plain), CHUNK):
                continue
            w.seek(offset)
            w.write(data)
            plain[offset : offset + len(data)] = data
        w.seek(0, io.SEEK_END)
    assert out.getvalue() == age.encrypt(bytes(plain), [IDENTITY.recipient], rng=FixedRng(b"p"))


def test_rewrite_past_the_first_chunk_is_refused() -> None:
    w = age.AgeWriter(io.BytesIO(), [IDENTITY.recipient])
    w.write(bytes(3 * CHUNK))
    w.seek(CHUNK - 2)
    with pytest.raises(ValueError, match="first 64 KiB"):
        w.write(b"abcd")
    with pytest.raises(ValueError, match="cannot seek"):
        w.seek(4 * CHUNK)


def test_soundfile_writes_a_flac_through_it() -> None:
    audio = np.random.default_rng(0).integers(-3000, 3000, (100_000, 2)).astype(np.int16)
    out = io.BytesIO()
    with age.AgeWriter(out, [IDENTITY.recipient]) as w:
        with soundfile.SoundFile(w, "w", 48000, 2, "PCM_16", format="FLAC") as f:
            for i in range(0, len(audio), 7000):
                f.write(audio[i : i + 7000])
    flac = age.decrypt(out.getvalue(), [IDENTITY])
    back, rate = soundfile.read(io.BytesIO(flac), dtype="int16")
    assert rate == 48000 and np.array_equal(back, audio)
    assert soundfile.info(io.BytesIO(flac)).frames == len(audio)  # STREAMINFO patched at close
