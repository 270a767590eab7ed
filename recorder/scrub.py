"""Remove secrets (`api_key`, `Authorization`) from anything that will be stored or logged.

reference/hydra-protocol.md §14.5: the API key travels in the upgrade query string or as a
bearer token, and leaks through URLs in logs, exception messages and reprs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

SCRUBBED = "[SCRUBBED]"
SECRET_QUERY_KEYS = frozenset({"api_key", "apikey", "token", "access_token", "key"})
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})

_QUERY_SECRET = re.compile(
    r"(?i)\b(api_key|apikey|access_token|token)=([^&\s\"'#]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_SK_KEY = re.compile(r"\bsk_[A-Za-z0-9_\-]{6,}")


def scrub_query(query: str) -> str:
    """The query string with every secret value replaced, order and other values kept."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, SCRUBBED if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs],
        safe="[]",
    )


def scrub_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, SCRUBBED if k.lower() in SECRET_HEADERS else v) for k, v in headers]


def scrub_text(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Best-effort scrub of free text (log lines, error messages)."""
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={SCRUBBED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {SCRUBBED}", text)
    text = _SK_KEY.sub(SCRUBBED, text)
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, SCRUBBED)
    return text


def scrub_mapping(values: Mapping[str, str]) -> dict[str, str]:
    return {
        k: SCRUBBED if k.lower() in SECRET_HEADERS | SECRET_QUERY_KEYS else v
        for k, v in values.items()
    }
