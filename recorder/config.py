"""One frozen `Settings`, built once at the CLI edge: flags > environment > TOML > defaults.

This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from recorder.errors import ConfigError
from recorder.retention_policy import RetentionPolicies, parse_retention

DEFAULT_UPSTREAM = "wss://api.smallest.ai/waves/v1/s2s"
DEFAULT_PULSE = "https://api.smallest.ai/waves/v1/stt/"
DEFAULT_HOME = "~/.local/share/recorder"

_ENV = {
    "home": "RECORDER_HOME",
    "database_url": "RECORDER_DATABASE_URL",
    "upstream_url": "RECORDER_UPSTREAM_URL",
    "pulse_url": "RECORDER_PULSE_URL",
    "api_key": "SMALLEST_API_KEY",
    "log_format": "RECORDER_LOG_FORMAT",
    "archive_url": "RECORDER_ARCHIVE_URL",
}


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path = Path(DEFAULT_HOME).expanduser()
    database_url: str = ""
    upstream_url: str = DEFAULT_UPSTREAM
    pulse_url: str = DEFAULT_PULSE
    api_key: str = field(default="", repr=False)
    listen: str = "127.0.0.1:8765"
    max_sessions: int = 100
    max_sessions_per_client: int = 0  # 0: no per-address limit (clients behind one NAT/LB)
    max_message_mb: int = 8  # per message, either leg, after decompression
    workers: int = 1
    drain_timeout_s: float = 30.0
    open_timeout_s: float = 10.0
    certfile: str = ""
    keyfile: str = ""
    upstream_ca_file: str = ""
    gap_threshold_ms: float = 250.0
    flush_interval_s: float = 0.2
    fsync: str = "interval"
    recording_failure: str = "close"
    min_free_disk_mb: int = 500
    log_level: str = "INFO"
    retention: RetentionPolicies = field(default_factory=RetentionPolicies)
    pci_tools: tuple[str, ...] = ()  # tool names whose calls pause the caller's recording
    log_format: str = "text"  # or json: one object per line, with the call id
    archive_url: str = ""  # "": <home>/archive; s3://bucket/prefix: object storage
    archive_lock_mode: str = ""  # "", GOVERNANCE or COMPLIANCE (S3 Object Lock on upload)
    archive_retain_days: int = 0  # retain-until = upload time + this, with archive_lock_mode

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'recorder.db'}"

    def listen_host_port(self) -> tuple[str, int]:
        return parse_host_port(self.listen, "listen")


def parse_host_port(value: str, key: str, source: str = "arguments") -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`; no host means 127.0.0.1) split into host and port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(key, source, f"expected HOST:PORT, got {value!r}")
    if not 0 <= int(port) <= 65535:
        raise ConfigError(key, source, f"port {int(port)} is out of range (0-65535; 0 picks a free port)")
    return host.strip("[]") or "127.0.0.1", int(port)


def _coerce(name: str, raw: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds[name]
    if name == "retention":
        return parse_retention(raw, source)
    if name == "pci_tools":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(name, source, f"expected a list of tool names, got {raw!r}")
        return tuple(i.strip() for i in items if i.strip())
    try:
        if kind == "Path":
            return Path(str(raw)).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(name, source, f"cannot use {raw!r} as {kind}") from exc


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build the settings; `overrides` are CLI flags (None values are ignored)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}

    path = config_file or (Path(env["RECORDER_CONFIG"]) if env.get("RECORDER_CONFIG") else None)
    if path is not None:
        try:
            table = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError("config", str(path), "file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", str(path), f"invalid TOML: {exc}") from exc
        section = table.get("recorder", table)
        for key, raw in section.items():
            if key not in known:
                raise ConfigError(key, str(path), f"unknown setting; known: {sorted(known)}")
            values[key] = _coerce(key, raw, str(path))

    for key, var in _ENV.items():
        if env.get(var):
            values[key] = _coerce(key, env[var], f"${var}")

    for key, raw in (overrides or {}).items():
        if raw is not None:
            if key not in known:
                raise ConfigError(key, "arguments", "unknown setting")
            values[key] = _coerce(key, raw, "arguments")

    settings = dataclasses.replace(Settings(), **values)
    if settings.max_sessions < 1:
        raise ConfigError("max_sessions", "settings", "must be at least 1")
    if settings.max_sessions_per_client < 0:
        raise ConfigError("max_sessions_per_client", "settings", "must be 0 (no limit) or more")
    if not 1 <= settings.max_message_mb <= 1024:
        raise ConfigError("max_message_mb", "settings", "must be between 1 and 1024 (MiB)")
    if settings.workers < 1:
        raise ConfigError("workers", "settings", "must be at least 1")
    settings.listen_host_port()  # a bad --listen is refused before anything is created
    if settings.workers > 1 and settings.listen_host_port()[1] == 0:
        raise ConfigError("workers", "settings", "several workers share one port: give --listen a port")
    if settings.fsync not in ("always", "interval", "never"):
        raise ConfigError("fsync", "settings", "must be always, interval or never")
    if settings.recording_failure not in ("close", "continue"):
        raise ConfigError("recording_failure", "settings", "must be close or continue")
    if not settings.flush_interval_s > 0:
        raise ConfigError("flush_interval_s", "settings", "must be positive")
    if settings.log_format not in ("text", "json"):
        raise ConfigError("log_format", "settings", "must be text or json")
    if settings.archive_url and not settings.archive_url.startswith("s3://"):
        raise ConfigError("archive_url", "settings", "must be s3://BUCKET[/PREFIX] (or empty: "
                          "the archive directory under home)")
    if settings.archive_lock_mode not in ("", "GOVERNANCE", "COMPLIANCE"):
        raise ConfigError("archive_lock_mode", "settings", "must be GOVERNANCE or COMPLIANCE")
    if bool(settings.archive_lock_mode) != (settings.archive_retain_days > 0):
        raise ConfigError("archive_retain_days", "settings", "archive_lock_mode and a positive "
                          "archive_retain_days go together")
    if settings.certfile and not settings.keyfile or settings.keyfile and not settings.certfile:
        raise ConfigError("certfile", "settings", "--certfile and --keyfile go together")
    return settings
