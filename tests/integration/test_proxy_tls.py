"""wss on both legs: served with --certfile/--keyfile; upstream certificates verified by default."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.certs import make_localhost_cert
from tests.integration.harness import proxy_settings, proxy_url, running_proxy, scripted_upstream


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_serves_wss_and_verifies_upstream_with_given_ca(home: Path, database_url: str, tmp_path: Path) -> None:
    certs = make_localhost_cert(tmp_path / "certs")

    async def main() -> list[str | bytes]:
        async with scripted_upstream(ssl_context=_server_context(certs.cert, certs.key)) as upstream:
            settings = proxy_settings(
                home, database_url, upstream.url,
                certfile=str(certs.cert), keyfile=str(certs.key), upstream_ca_file=str(certs.ca),
            )
            async with running_proxy(settings) as proxy:
                client_tls = ssl.create_default_context(cafile=str(certs.ca))
                async with connect(proxy_url(proxy), ssl=client_tls) as client:
                    await client.send('{"type":"session.configure","session":{}}')
                await asyncio.wait_for(upstream.closed.wait(), 5)
            return upstream.received

    assert asyncio.run(main()) == ['{"type":"session.configure","session":{}}']


def test_untrusted_upstream_certificate_is_refused_by_default(
    home: Path, database_url: str, tmp_path: Path
) -> None:
    certs = make_localhost_cert(tmp_path / "certs")

    async def main() -> int:
        async with scripted_upstream(ssl_context=_server_context(certs.cert, certs.key)) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                with pytest.raises(InvalidStatus) as caught:
                    async with connect(proxy_url(proxy)):
                        pass
                assert upstream.requests == []  # the TLS handshake failed before any request
                return caught.value.response.status_code

    assert asyncio.run(main()) == 502
