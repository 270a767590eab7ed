"""The transparent WebSocket proxy: the asyncio shell around capture."""
