"""What the proxy stores of a call: tool-call payloads redacted, query scrubbed, metadata kept."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import create_engine, text
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from tests.conftest import TEST_API_KEY
from tests.integration.harness import (
    ScriptedUpstream,
    proxy_settings,
    proxy_url,
    running_proxy,
    scripted_upstream,
)

CARD = "4111111111111111"


async def tool_call_with_card(connection: ServerConnection, upstream: ScriptedUpstream) -> None:
    frames = [
        {"type": "session.created", "session_id": "sess-redact-1"},
        {"type": "response.created", "response": {"id": "resp_1"}},
        {"type": "response.function_call_arguments.done", "response_id": "resp_1",
         "call_id": "call_1", "name": "take_payment",
         "arguments": json.dumps({"card_number": CARD, "amount": "12.50"})},
        {"type": "response.done", "response": {"id": "resp_1", "status": "completed",
         "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}}},
    ]
    for frame in frames:
        await connection.send(json.dumps(frame))
    async for message in connection:
        upstream.received.append(message)


def test_tool_payloads_are_stored_redacted(home: Path, database_url: str) -> None:
    output = {"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1",
        "output": "charged card 4111 1111 1111 1111 ok"}}

    async def main() -> None:
        async with scripted_upstream(tool_call_with_card) as upstream:
            async with running_proxy(proxy_settings(home, database_url, upstream.url)) as proxy:
                url = proxy_url(proxy, f"/waves/v1/s2s?model=hydra-v1.1&api_key={TEST_API_KEY}")
                async with connect(url, additional_headers={"X-Recorder-Call-Id": "ext-9"}) as client:
                    for _ in range(4):
                        await client.recv()
                    await client.send(json.dumps(output))
                    await asyncio.sleep(0.1)

    asyncio.run(main())
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            arguments, stored_output = conn.execute(
                text("SELECT arguments, output FROM tool_calls")).one()
            query, metadata, hydra_id = conn.execute(
                text("SELECT query, metadata, hydra_session_id FROM sessions")).one()
            tokens = conn.execute(text("SELECT total_tokens FROM responses")).scalar_one()
    finally:
        engine.dispose()
    assert json.loads(arguments) == {"card_number": "[CREDIT_CARD]", "amount": "12.50"}
    assert "4111" not in stored_output and "[CREDIT_CARD]" in stored_output
    assert TEST_API_KEY not in query and "api_key=[SCRUBBED]" in query
    assert (json.loads(metadata) if isinstance(metadata, str) else metadata) == {"call_id": "ext-9"}
    assert hydra_id == "sess-redact-1"
    assert tokens == 12
