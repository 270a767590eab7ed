"""Wire shapes of the Hydra stand-in: validation of client frames and builders of server frames.

Implements reference/hydra-protocol.md §4 (client events), §5 (server events), §6 (items) and
the error table of §11. Choices where the reference is unconfirmed, documented once here:

- `invalid_frame` for malformed JSON, a non-object, an unknown `type`, a binary frame, and an
  unknown field in `session.update`; `invalid_request_error` for a missing `type` or a field of
  the wrong JSON type (§11 table).
- `event_id` is accepted on every client frame and echoed as `error.event_id`.
- The first item of the conversation log carries no `previous_item_id` key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CLIENT_TYPES = frozenset(
    {
        "session.configure",
        "session.update",
        "input_audio_buffer.append",
        "conversation.item.create",
        "response.create",
        "response.cancel",
    }
)
SESSION_UPDATE_KEYS = frozenset({"type", "event_id", "session"})
SESSION_UPDATE_SESSION_KEYS = frozenset({"tools"})

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A client frame the server answers with an `error` event (session continues)."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None
    error_type: str = "invalid_request_error"


def dumps(frame: Json) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def parse_client(message: str | bytes) -> Json | Rejection:
    """The frame as a dict with a known `type`, or why it is rejected."""
    if isinstance(message, bytes):
        return Rejection("invalid_frame", "binary frames are not supported; send JSON text frames")
    try:
        frame = json.loads(message)
    except ValueError:
        return Rejection("invalid_frame", "frame is not valid JSON")
    if not isinstance(frame, dict):
        return Rejection("invalid_frame", "frame must be a JSON object")
    event_id = frame.get("event_id") if isinstance(frame.get("event_id"), str) else None
    kind = frame.get("type")
    if kind is None:
        return Rejection("invalid_request_error", "missing required field 'type'", "type", event_id)
    if not isinstance(kind, str):
        return Rejection("invalid_request_error", "'type' must be a string", "type", event_id)
    if kind not in CLIENT_TYPES:
        return Rejection("invalid_frame", f"unknown event type {kind!r}", "type", event_id)
    return frame


def check_session_update(frame: Json) -> Rejection | list[Json]:
    """The new tool list of a strict `session.update` (§4.2), or why it is rejected."""
    event_id = frame.get("event_id") if isinstance(frame.get("event_id"), str) else None
    for key in frame:
        if key not in SESSION_UPDATE_KEYS:
            return Rejection("invalid_frame", f"unknown field {key!r}", f"session.update.{key}", event_id)
    session = frame.get("session")
    if not isinstance(session, dict):
        return _invalid("'session' must be an object", "session.update.session", event_id)
    for key in session:
        if key not in SESSION_UPDATE_SESSION_KEYS:
            return Rejection(
                "invalid_frame", f"unknown field {key!r}", f"session.update.session.{key}", event_id
            )
    return check_tools(session.get("tools", []), "session.update.session.tools", event_id)


def check_tools(tools: object, param: str, event_id: str | None) -> Rejection | list[Json]:
    if not isinstance(tools, list):
        return Rejection("invalid_request_error", "'tools' must be an array", param, event_id)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            return _invalid("each tool needs a string 'name'", f"{param}[{i}].name", event_id)
        if tool.get("type", "function") != "function":
            return _invalid("tool 'type' must be 'function'", f"{param}[{i}].type", event_id)
    return [dict(tool) for tool in tools]


def _invalid(message: str, param: str, event_id: str | None) -> Rejection:
    return Rejection("invalid_request_error", message, param, event_id)


def error(event_id: str, rejection: Rejection) -> Json:
    body: Json = {"type": rejection.error_type, "code": rejection.code, "message": rejection.message}
    if rejection.param is not None:
        body["param"] = rejection.param
    if rejection.event_id is not None:
        body["event_id"] = rejection.event_id
    return {"type": "error", "event_id": event_id, "error": body}


def user_item(item_id: str, status: str) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "role": "user",
        "status": status,
        "content": [{"type": "input_audio", "text": None}],
    }


def assistant_item(item_id: str, status: str) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_audio", "text": None}],
    }


def function_call_item(item_id: str, status: str, call_id: str, name: str, arguments: str) -> Json:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def item_event(kind: str, event_id: str, item: Json, previous_item_id: str | None) -> Json:
    frame: Json = {"type": kind, "event_id": event_id}
    if previous_item_id is not None:
        frame["previous_item_id"] = previous_item_id
    frame["item"] = item
    return frame


def response_done(
    event_id: str,
    response_id: str,
    status: str,
    reason: str | None,
    output: list[Json],
    usage: tuple[int, int],
) -> Json:
    response: Json = {"id": response_id, "status": status}
    if reason is not None:
        response["status_details"] = {"type": status, "reason": reason}
    response["output"] = output
    response["usage"] = {
        "input_tokens": usage[0],
        "output_tokens": usage[1],
        "total_tokens": usage[0] + usage[1],
    }
    return {"type": "response.done", "event_id": event_id, "response": response}


def example_arguments(parameters: object, digits: str) -> str:
    """Deterministic JSON arguments that fit a tool's JSON-Schema `parameters` (§4.1 `Tool`)."""
    props = parameters.get("properties") if isinstance(parameters, dict) else None
    args: Json = {}
    if isinstance(props, dict):
        for name, schema in props.items():
            kind = schema.get("type") if isinstance(schema, dict) else None
            enum = schema.get("enum") if isinstance(schema, dict) else None
            if isinstance(enum, list) and enum:
                args[name] = enum[0]
            elif kind == "integer":
                args[name] = int(digits[:4])
            elif kind == "number":
                args[name] = int(digits[:3]) / 10
            elif kind == "boolean":
                args[name] = True
            elif kind == "array":
                args[name] = []
            elif kind == "object":
                args[name] = {}
            else:
                args[name] = digits
    return json.dumps(args)
