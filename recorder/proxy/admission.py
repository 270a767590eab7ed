"""Who may start a call: capacity slots, taken before any upstream connection opens.

Pure and synchronous: the proxy takes a slot in the same event-loop step that checks the limit,
so a burst of simultaneous handshakes cannot all pass the check before any of them counts, and
every slot is released exactly once whatever ends the call (refusal, failed handshake, the
call's end, a crash of its task). `/healthz` reports the same count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class Slot:
    """One admitted call's place; `release` is idempotent."""

    __slots__ = ("_admission", "client", "_released")

    def __init__(self, admission: Admission, client: str) -> None:
        self._admission = admission
        self.client = client
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._give_back(self.client)

    def __repr__(self) -> str:
        return f"Slot(client={self.client!r}, released={self._released})"


@dataclass(slots=True)
class Admission:
    """At most `limit` calls, and at most `per_client` from one client address (0: no limit)."""

    limit: int
    per_client: int = 0
    taken: int = 0
    _by_client: Counter[str] = field(default_factory=Counter, repr=False)

    def take(self, client: str) -> Slot | None:
        """A slot for a call from `client`, or None when the call must be refused."""
        if self.taken >= self.limit:
            return None
        if self.per_client and self._by_client[client] >= self.per_client:
            return None
        self.taken += 1
        self._by_client[client] += 1
        return Slot(self, client)

    def refusal(self, client: str) -> str:
        """Why `take` would refuse `client` now (for the log)."""
        if self.taken >= self.limit:
            return f"{self.taken} calls active (limit {self.limit})"
        return f"{self._by_client[client]} calls active from {client} (limit {self.per_client} per client)"

    def _give_back(self, client: str) -> None:
        self.taken -= 1
        self._by_client[client] -= 1
        if self._by_client[client] <= 0:
            del self._by_client[client]
