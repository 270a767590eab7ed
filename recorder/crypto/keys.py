"""Directory-based key store: age identities per tier, recipients, and the manifest signing key.

Layout under the directory passed in (``RECORDER_HOME/keys`` by convention; nothing here reads
the environment)::

    keys/                       0700
      keys.json                 0644  index: id, tier, kind, state, created (no secrets)
      archive/ auditor/         0700  the two age tiers (originals / redacted derivatives)
        k_….recipient           0644  age1…
        k_….identity            0600  age-keygen format, so ``age -d -i k_….identity`` works
      signing/                  0700
        k_….pub                 0644  ed25519:…
        k_….key                 0600  ed25519-secret:…

Kinds: ``x25519`` (generated here), ``x25519-recipient`` (a listed public key from elsewhere,
e.g. an offline escrow key; never has a secret here), ``ed25519`` (signing).

States and their meaning:

- ``active``: new files are encrypted to every active recipient of the tier; the active
  signing key signs new manifests.
- ``retired``: no longer used for new files; its identity still decrypts files not yet
  rewrapped (``recorder keys rewrap`` moves them to the active keys). A retired signing key
  still verifies the manifests it signed.
- ``deleted``: the secret file is removed (crypto-shredding: a file wrapped only to deleted
  keys can never be decrypted again). The public file and index row stay so key ids recorded
  in manifests and the database remain explainable. Only retired keys can be deleted.

A proxy host should hold only public files (``export_public``): ``identities`` then raises
``IdentitiesUnavailable`` naming the missing files instead of failing later at decryption.
One writer at a time (the CLI); the index is replaced atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from recorder.crypto.age import (
    Identity,
    InvalidKeyError,
    Recipient,
    Rng,
    generate_identity,
    parse_identity,
    parse_recipient,
)
from recorder.crypto.signing import (
    SigningKey,
    VerifyKey,
    generate_signing_key,
    parse_signing_key,
    parse_verify_key,
)
from recorder.errors import ConfigError
from recorder.private import make_private_dir

logger = logging.getLogger(__name__)

AgeTier = Literal["archive", "auditor"]
Tier = Literal["archive", "auditor", "signing"]
State = Literal["active", "retired", "deleted"]
TIERS: tuple[Tier, ...] = ("archive", "auditor", "signing")
INDEX_NAME = "keys.json"
_INDEX_VERSION = 1
_PUBLIC_SUFFIX = {"x25519": ".recipient", "x25519-recipient": ".recipient", "ed25519": ".pub"}
_SECRET_SUFFIX = {"x25519": ".identity", "ed25519": ".key"}


class KeyStoreError(ConfigError):
    """The key store is missing, damaged, or asked to do something unsafe."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__("keys", str(path), problem)


class IdentitiesUnavailable(KeyStoreError):
    """Secret files are absent: expected on proxy hosts, which hold only public keys."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One key as ``recorder keys list`` shows it. ``public`` is the public key text."""

    key_id: str
    tier: Tier
    kind: str
    state: State
    created: str
    public: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _write_file(path: Path, text: str, mode: int) -> None:
    """Write atomically with ``mode`` set before any byte lands (umask cannot widen it)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class KeyStore:
    """Keys of one recorder installation, kept in files under ``path``."""

    def __init__(self, path: Path, *, rng: Rng = os.urandom, clock: Callable[[], datetime] = _utc_now):
        self.path = Path(path)
        self._rng = rng
        self._clock = clock

    # --- index ---------------------------------------------------------------------------------

    def _index_path(self) -> Path:
        return self.path / INDEX_NAME

    def _load(self) -> list[KeyRow]:
        index = self._index_path()
        if not index.exists():
            return []
        try:
            doc = json.loads(index.read_text("utf-8"))
            if doc.get("version") != _INDEX_VERSION:
                raise KeyStoreError(index, f"unsupported index version {doc.get('version')!r}")
            return [KeyRow(**row) for row in doc["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(index, f"damaged key index ({exc}); restore it from backup") from exc

    def _save(self, rows: Sequence[KeyRow]) -> None:
        doc = {
            "version": _INDEX_VERSION,
            "keys": [
                {f: getattr(r, f) for f in ("key_id", "tier", "kind", "state", "created", "public")}
                for r in rows
            ],
        }
        _write_file(self._index_path(), json.dumps(doc, indent=2) + "\n", 0o644)

    def _ensure_dirs(self) -> None:
        make_private_dir(self.path.parent)  # the data dir, if the key store is its first use
        for directory in (self.path, *(self.path / t for t in TIERS)):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)

    def _public_path(self, row: KeyRow) -> Path:
        return self.path / row.tier / (row.key_id + _PUBLIC_SUFFIX[row.kind])

    def _secret_path(self, row: KeyRow) -> Path | None:
        suffix = _SECRET_SUFFIX.get(row.kind)
        return None if suffix is None else self.path / row.tier / (row.key_id + suffix)

    def _row(self, key_id: str) -> tuple[list[KeyRow], int]:
        rows = self._load()
        for i, row in enumerate(rows):
            if row.key_id == key_id:
                return rows, i
        raise KeyStoreError(self.path, f"no key {key_id!r}; see `recorder keys list`")

    # --- creation ------------------------------------------------------------------------------

    def _created(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _new_key(self, tier: Tier) -> KeyRow:
        """Generate and write a key of ``tier`` (secret first, then public), not yet indexed."""
        created = self._created()
        if tier == "signing":
            signing = generate_signing_key(self._rng)
            row = KeyRow(signing.key_id, tier, "ed25519", "active", created, str(signing.public_key))
            secret_text = signing.secret_str() + "\n"
        else:
            identity = generate_identity(self._rng)
            row = KeyRow(identity.key_id, tier, "x25519", "active", created, str(identity.recipient))
            secret_text = (
                f"# created: {created}\n# public key: {identity.recipient}\n"
                f"{identity.secret_str()}\n"
            )
        secret_path = self._secret_path(row)
        assert secret_path is not None
        _write_file(secret_path, secret_text, 0o600)
        _write_file(self._public_path(row), row.public + "\n", 0o644)
        return row

    def init(self) -> list[KeyRow]:
        """Create whatever tier has no active key; return the rows created (empty if none)."""
        self._ensure_dirs()
        rows = self._load()
        created: list[KeyRow] = []
        for tier in TIERS:
            if not any(r.tier == tier and r.state == "active" for r in rows):
                row = self._new_key(tier)
                rows.append(row)
                created.append(row)
        if created:
            self._save(rows)
        if created:  # the commands that create keys say what that means (proxy, keys init)
            logger.info("created %s keys under %s", ", ".join(r.tier for r in created), self.path)
        return created

    def rotate(self, tier: Tier) -> KeyRow:
        """Make a new active key for ``tier``; keys generated here that were active become retired."""
        self._ensure_dirs()
        rows = self._load()
        new = self._new_key(tier)
        rows = [
            replace(r, state="retired")
            if r.tier == tier and r.state == "active" and r.kind != "x25519-recipient"
            else r
            for r in rows
        ]
        rows.append(new)
        self._save(rows)
        logger.info("rotated %s key: %s is active", tier, new.key_id)
        return new

    def add_recipient(self, tier: AgeTier, text: str) -> KeyRow:
        """List an outside public key (e.g. offline escrow) as an active recipient of ``tier``."""
        recipient = parse_recipient(text, source="keys add")
        self._ensure_dirs()
        rows = self._load()
        if any(r.key_id == recipient.key_id for r in rows):
            raise KeyStoreError(self.path, f"key {recipient.key_id} is already in the store")
        row = KeyRow(recipient.key_id, tier, "x25519-recipient", "active", self._created(), str(recipient))
        _write_file(self._public_path(row), row.public + "\n", 0o644)
        rows.append(row)
        self._save(rows)
        return row

    # --- state changes -------------------------------------------------------------------------

    def retire(self, key_id: str) -> KeyRow:
        """Stop using a key for new files; it still decrypts (or verifies) old ones."""
        rows, i = self._row(key_id)
        row = rows[i]
        if row.state != "active":
            raise KeyStoreError(self.path, f"key {key_id} is {row.state}, not active")
        if not any(r.tier == row.tier and r.state == "active" and r.key_id != key_id for r in rows):
            raise KeyStoreError(
                self.path, f"{key_id} is the last active {row.tier} key; `recorder keys rotate` instead"
            )
        rows[i] = replace(row, state="retired")
        self._save(rows)
        return rows[i]

    def delete(self, key_id: str) -> KeyRow:
        """Remove a retired key's secret file for good (crypto-shredding). Public file stays.

        Files wrapped only to this key become undecryptable. Unlinking does not scrub the bytes
        from the disk or its backups; destroy those by the operator's media policy.
        """
        rows, i = self._row(key_id)
        row = rows[i]
        if row.state != "retired":
            raise KeyStoreError(self.path, f"key {key_id} is {row.state}; only retired keys can be deleted")
        secret = self._secret_path(row)
        if secret is not None:
            secret.unlink(missing_ok=True)
        rows[i] = replace(row, state="deleted")
        self._save(rows)
        logger.info("deleted secret of %s key %s", row.tier, key_id)
        return rows[i]

    # --- reading -------------------------------------------------------------------------------

    def recipients(self, tier: AgeTier) -> list[Recipient]:
        """Every active recipient of ``tier`` (generated and listed): what new files are wrapped to."""
        out = [
            parse_recipient(self._public_path(r).read_text("ascii"), source=str(self._public_path(r)))
            for r in self._load()
            if r.tier == tier and r.state == "active"
        ]
        if not out:
            raise KeyStoreError(self.path, f"no active {tier} recipient; run `recorder keys init`")
        return out

    def identities(
        self, tier: AgeTier, *, states: Sequence[State] = ("active", "retired")
    ) -> list[Identity]:
        """Identities of ``tier`` in ``states`` (active first, then retired, as listed)."""
        wanted = [
            r for s in states for r in self._load() if r.tier == tier and r.state == s and r.kind == "x25519"
        ]
        missing = [p for r in wanted if not (p := self._secret_path(r)) or not p.exists()]
        if missing or not wanted:
            names = ", ".join(str(p) for p in missing if p) or f"no {tier} identity in {self.path}"
            raise IdentitiesUnavailable(
                self.path,
                f"{tier} identities are not on this host ({names}); decrypt where identities are "
                "kept (proxy hosts hold only public keys)",
            )
        out: list[Identity] = []
        for r in wanted:
            secret_path = self._secret_path(r)
            assert secret_path is not None
            out.append(_read_identity(secret_path))
        return out

    def signing_key(self) -> SigningKey:
        """The active signing key (secret), for new manifests."""
        active = [r for r in self._load() if r.tier == "signing" and r.state == "active"]
        if not active:
            raise KeyStoreError(self.path, "no active signing key; run `recorder keys init`")
        path = self._secret_path(active[-1])
        assert path is not None
        if not path.exists():
            raise IdentitiesUnavailable(self.path, f"signing key secret {path} is not on this host")
        return parse_signing_key(path.read_text("ascii"), source=str(path))

    def verify_keys(self) -> dict[str, VerifyKey]:
        """Every signing public key ever used (any state), by key id: old manifests still verify."""
        return {
            r.key_id: parse_verify_key(self._public_path(r).read_text("ascii"), source=str(self._public_path(r)))
            for r in self._load()
            if r.tier == "signing"
        }

    def export_public(self, dest: Path, *, include_signing_key: bool = False) -> KeyStore:
        """A store at ``dest`` with the index and public files only, for a proxy or an auditor.

        A proxy signs manifests, so it needs ``include_signing_key=True``; an auditor does not.
        """
        target = KeyStore(dest, rng=self._rng, clock=self._clock)
        target._ensure_dirs()
        rows = self._load()
        for row in rows:
            _write_file(target._public_path(row), self._public_path(row).read_text("ascii"), 0o644)
            secret, target_secret = self._secret_path(row), target._secret_path(row)
            wanted = include_signing_key and row.tier == "signing" and row.state == "active"
            if wanted and secret is not None and target_secret is not None:
                _write_file(target_secret, secret.read_text("ascii"), 0o600)
        target._save(rows)
        return target

    def list(self) -> list[KeyRow]:  # last: the name shadows the builtin in the class body
        """Every key, in creation order."""
        return self._load()


def _read_identity(path: Path) -> Identity:
    """Read an age-keygen style file: comment lines, then one ``AGE-SECRET-KEY-1...`` line."""
    lines = [ln.strip() for ln in path.read_text("ascii").splitlines()]
    keys = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(keys) != 1:
        raise InvalidKeyError("identity", str(path), "expected exactly one AGE-SECRET-KEY-1 line")
    return parse_identity(keys[0], source=str(path))
