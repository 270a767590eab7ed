"""The one exception tree of recorder.

Split by who is at fault and what the caller can do::

    RecorderError
    ├── ConfigError(key, source)          the operator's configuration is wrong
    ├── UpstreamError                     Hydra (or the network to it) misbehaved
    │   ├── UpstreamRefused(status)       the handshake was answered with a non-101 status
    │   ├── UpstreamUnreachable           no TCP/TLS connection could be made
    │   └── UpstreamLost                  an open upstream connection died
    ├── ClientGone                        the client vanished mid-call
    ├── DatabaseError                     the database refused or is unreachable
    ├── NotFound(kind, key)               an auditor asked for something that does not exist
    ├── AmbiguousId(key, candidates)      an id that names several calls
    ├── RedactionError                    input the redaction engine cannot process
    └── IntegrityError(path)              a file failed decryption or verification

Exceptions carry data; their messages tell the user what to do next.
"""

from __future__ import annotations


class RecorderError(Exception):
    """Base class of every error recorder raises on purpose."""


class ConfigError(RecorderError):
    def __init__(self, key: str, source: str, problem: str) -> None:
        self.key = key
        self.source = source
        self.problem = problem
        super().__init__(f"configuration {key!r} from {source}: {problem}")


class UpstreamError(RecorderError):
    """Hydra, or the network to it, failed."""


class UpstreamRefused(UpstreamError):
    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status = status
        self.body = body
        super().__init__(f"upstream refused the WebSocket handshake with HTTP {status}")


class UpstreamUnreachable(UpstreamError):
    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(
            f"cannot connect to upstream {target}: {reason}; check --upstream and the network"
        )


class UpstreamLost(UpstreamError):
    def __init__(self, code: int | None, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"upstream connection lost (close code {code})")


class ClientGone(RecorderError):
    def __init__(self, code: int | None) -> None:
        self.code = code
        super().__init__(f"client connection lost (close code {code})")


class DatabaseError(RecorderError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"database {url}: {reason}")


class NotFound(RecorderError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}; list them with `recorder sessions`")


class AmbiguousId(RecorderError):
    """A key (a Hydra session id, say) that matches several calls: nothing is chosen for the
    user, who picks one of the `candidates` (lines naming each call)."""

    def __init__(self, key: str, candidates: list[str]) -> None:
        self.key = key
        self.candidates = candidates
        listed = "".join(f"\n  {c}" for c in candidates)
        super().__init__(
            f"{key!r} matches {len(candidates)} calls; give the recorder id of one of them:{listed}"
        )


class RedactionError(RecorderError):
    """Input the redaction engine cannot process."""


class IntegrityError(RecorderError):
    def __init__(self, path: str, reason: str = "failed integrity check") -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")
