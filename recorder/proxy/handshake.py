"""Pure handshake decisions: which headers go upstream, the upstream URL, call metadata.

The transparency contract: the client connects exactly as it would to Hydra; the
recorder's own `X-Recorder-*` headers are read as metadata and never forwarded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, urlunsplit

from recorder.errors import ConfigError
from recorder.scrub import scrub_query

METADATA_PREFIX = "x-recorder-"
# Set by the WebSocket library on each leg, or hop-by-hop: never copied across.
_NOT_FORWARDED = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "content-length",
        "transfer-encoding",
        "keep-alive",
        "te",
        "trailer",
        "proxy-connection",
        "proxy-authorization",
        "user-agent",
    }
)
# Headers of a refused upstream handshake worth passing back to the client.
REFUSAL_HEADERS = frozenset({"content-type", "www-authenticate", "retry-after"})


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    user_agent: str | None
    subprotocols: tuple[str, ...]
    compression: bool
    metadata: dict[str, str]
    path: str
    scrubbed_query: str
    model: str | None

    def __repr__(self) -> str:  # the URL and headers may hold the API key
        return f"UpstreamRequest(path={self.path!r}, query={self.scrubbed_query!r})"


@dataclass(frozen=True, slots=True)
class NotAnUpgrade:
    """The HTTP answer to a request that is not a WebSocket upgrade (no call, no Hydra)."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def _tokens(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    return [t.strip().lower() for k, v in headers if k.lower() == name for t in v.split(",")]


def upgrade_refusal(method: str, headers: Iterable[tuple[str, str]]) -> NotAnUpgrade | None:
    """Why this request cannot open a WebSocket call (RFC 6455 §4.2.1), or None if it can.

    Checked before a capacity slot is taken or Hydra is contacted, so a plain GET, a POST or a
    malformed upgrade costs nothing and leaves no trace but its answer.
    """
    headers = list(headers)
    if method != "GET":
        return NotAnUpgrade(405, f"{method} is not allowed: open a WebSocket with GET", (("Allow", "GET"),))
    if "websocket" not in _tokens(headers, "upgrade") or "upgrade" not in _tokens(headers, "connection"):
        return NotAnUpgrade(426, "this endpoint only speaks WebSocket (Upgrade: websocket)",
                            (("Upgrade", "websocket"),))
    keys = [v for k, v in headers if k.lower() == "sec-websocket-key"]
    try:
        valid_key = len(keys) == 1 and len(base64.b64decode(keys[0].strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        valid_key = False
    if not valid_key:
        return NotAnUpgrade(400, "missing or invalid Sec-WebSocket-Key")
    versions = [v.strip() for k, v in headers if k.lower() == "sec-websocket-version"]
    if versions != ["13"]:
        return NotAnUpgrade(426, "unsupported Sec-WebSocket-Version; this endpoint speaks 13",
                            (("Sec-WebSocket-Version", "13"),))
    return None


def validate_upstream(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ConfigError("upstream_url", "settings", f"expected a ws:// or wss:// URL, got {url!r}")
    return url


def upstream_url(base: str, client_query: str) -> str:
    """Hydra's endpoint with the client's query string, unchanged, whatever path it used."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", client_query, ""))


def metadata_key(header: str) -> str:
    return header[len(METADATA_PREFIX) :].lower().replace("-", "_")


def plan_upstream(
    base: str, request_path: str, headers: Iterable[tuple[str, str]]
) -> UpstreamRequest:
    path, _, query = request_path.partition("?")
    forwarded: list[tuple[str, str]] = []
    metadata: dict[str, str] = {}
    user_agent: str | None = None
    subprotocols: list[str] = []
    compression = False
    for name, value in headers:
        lower = name.lower()
        if lower.startswith(METADATA_PREFIX):
            metadata[metadata_key(lower)] = value
        elif lower == "user-agent":
            user_agent = value
        elif lower == "sec-websocket-protocol":
            subprotocols += [p.strip() for p in value.split(",") if p.strip()]
        elif lower == "sec-websocket-extensions":
            compression = compression or "permessage-deflate" in value.lower()
        elif lower not in _NOT_FORWARDED:
            forwarded.append((name, value))
    model = parse_qs(query).get("model", [None])[0]
    return UpstreamRequest(
        url=upstream_url(base, query),
        headers=tuple(forwarded),
        user_agent=user_agent,
        subprotocols=tuple(subprotocols),
        compression=compression,
        metadata=metadata,
        path=path,
        scrubbed_query=scrub_query(query),
        model=model,
    )


def server_full_frame(event_id: str) -> str:
    """Hydra's own capacity answer (reference §11), so clients' back-off works unchanged."""
    return (
        '{"type":"error","event_id":"%s","error":{"type":"server_error","code":"server_full",'
        '"message":"The recorder is at capacity; retry later with back-off."}}' % event_id
    )


def recording_failed_frame(event_id: str) -> str:
    """Sent before closing a call the recorder can no longer record (policy `close`)."""
    return (
        '{"type":"error","event_id":"%s","error":{"type":"server_error","code":"recording_failed",'
        '"message":"The call could not be recorded and was closed; retry later."}}' % event_id
    )
