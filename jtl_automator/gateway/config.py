"""The gateway's configuration: the sources (named senders), their secrets and event types, the limits.

The file (YAML, see ``config/gateway.example.yaml``) names where each source's HMAC secret comes from,
never the secret itself: an environment variable (``secret_env``, default ``JTL_GATEWAY_SECRET_<SOURCE>``)
or a Prefect Secret block (``secret_block``). The core does not import Prefect, so the command line hands
in the block loader. A source whose secret cannot be found stops the gateway at start, not at the first
request.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from jtl_automator.limits import GATEWAY_SOURCE_MAX, GATEWAY_TYPE_MAX
from jtl_automator.yaml_config import ConfigFileError, load_yaml_model

#: A source is a URL path segment and part of a Prefect resource id: keep it plain.
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Event types are dotted lowercase words (``order.held``); each has a schema file ``<type>.json``.
EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
#: The smallest secret accepted: HMAC-SHA256 keys shorter than 32 bytes can be guessed offline.
MIN_SECRET_LENGTH = 32

SecretLoader = Callable[[str], str]


class SourceConfig(BaseModel):
    """One sender: where its secret comes from and which event types it may send."""

    model_config = ConfigDict(extra="forbid")

    events: list[str] = Field(min_length=1)
    secret_env: str | None = None
    secret_block: str | None = None
    description: str = ""

    @field_validator("events")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        for name in value:
            if not EVENT_TYPE.match(name) or len(name) > GATEWAY_TYPE_MAX:
                raise ValueError(f"event type {name!r} must be dotted lowercase words (like order.held)")
        return value

    @model_validator(mode="after")
    def _one_secret_source(self) -> SourceConfig:
        if self.secret_env and self.secret_block:
            raise ValueError("give secret_env or secret_block, not both")
        return self


class RateLimitConfig(BaseModel):
    """Requests per client IP within a sliding window (the JTL Service the project replaces: 100 per 60 s)."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(100, ge=1)
    window_seconds: float = Field(60.0, gt=0, le=3600)
    #: Count in the state database, so the limit holds across every gateway process on it (false: each
    #: process counts on its own, and N processes let N times the limit through).
    shared: bool = True


class GatewayConfig(BaseModel):
    """The whole gateway file."""

    model_config = ConfigDict(extra="forbid")

    sources: dict[str, SourceConfig] = Field(min_length=1)
    #: Folder of ``<event type>.json`` schemas, relative to the configuration file.
    schemas: str = "gateway/schemas"
    #: Requests whose ``X-Timestamp`` is further than this from the gateway's clock are refused.
    tolerance_seconds: int = Field(300, ge=1, le=3600)
    max_body_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    rate_limit: RateLimitConfig = RateLimitConfig()
    #: Peers (a reverse proxy) whose ``X-Forwarded-For`` names the client; empty: the peer is the client.
    trusted_proxies: list[str] = []

    @field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        for name in value:
            if not SOURCE_NAME.match(name) or len(name) > GATEWAY_SOURCE_MAX:
                raise ValueError(f"source name {name!r} must be lowercase letters, digits, '-' or '_'")
        return value


def default_secret_env(source: str) -> str:
    """``JTL_GATEWAY_SECRET_<SOURCE>`` (upper case, ``-`` as ``_``)."""
    return "JTL_GATEWAY_SECRET_" + source.upper().replace("-", "_")


@dataclass(frozen=True)
class Source:
    """A source ready to verify requests: its secret and the validators of its event types."""

    name: str
    secret: SecretStr
    events: frozenset[str]

    def __repr__(self) -> str:
        return f"Source({self.name!r}, events={sorted(self.events)})"


@dataclass(frozen=True)
class Gateway:
    """Everything a request is checked against (built once at start)."""

    sources: Mapping[str, Source]
    validators: Mapping[str, Draft202012Validator]
    tolerance_seconds: int = 300
    max_body_bytes: int = 256 * 1024
    rate_requests: int = 100
    rate_window_seconds: float = 60.0
    trusted_proxies: frozenset[str] = frozenset()
    rate_shared: bool = True


def load_schemas(folder: Path, types: set[str]) -> dict[str, Draft202012Validator]:
    """One validator per event type from ``<folder>/<type>.json``; a missing or broken schema is an error."""
    problems: list[str] = []
    validators: dict[str, Draft202012Validator] = {}
    for name in sorted(types):
        path = folder / f"{name}.json"
        try:
            schema: Any = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
        except OSError as exc:
            problems.append(f"{path}: schema of event type {name!r} cannot be read: {exc.strerror or exc}")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}")
            continue
        except SchemaError as exc:
            problems.append(f"{path}: not a valid JSON schema: {exc.message}")
            continue
        validators[name] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    if problems:
        raise ConfigFileError(str(folder), problems)
    return validators


def resolve_secret(
    source: str,
    config: SourceConfig,
    environ: Mapping[str, str],
    load_block: SecretLoader | None,
) -> tuple[SecretStr | None, str]:
    """The source's secret (or None) and where it was looked for (for the error message, never the value)."""
    if config.secret_block:
        where = f"Secret block {config.secret_block!r}"
        if load_block is None:
            return None, f"{where} (blocks are not available here)"
        try:
            value = load_block(config.secret_block)
        except Exception as exc:  # a block that is missing or cannot be read; its text has no secret
            return None, f"{where} ({type(exc).__name__})"
        return (SecretStr(value) if value else None), where
    name = config.secret_env or default_secret_env(source)
    value = environ.get(name, "")
    return (SecretStr(value) if value else None), f"environment variable {name}"


def build_gateway(
    config: GatewayConfig,
    schema_folder: Path,
    *,
    environ: Mapping[str, str] | None = None,
    load_block: SecretLoader | None = None,
) -> Gateway:
    """Resolve every secret and load every schema; all problems are reported together."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    sources: dict[str, Source] = {}
    for name, source in config.sources.items():
        secret, where = resolve_secret(name, source, env, load_block)
        if secret is None:
            problems.append(f"source {name!r}: no secret in {where}")
        elif len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            problems.append(
                f"source {name!r}: the secret in {where} is shorter than {MIN_SECRET_LENGTH} characters "
                "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        else:
            sources[name] = Source(name, secret, frozenset(source.events))
    if problems:
        raise ConfigFileError("gateway sources", problems)
    types = {t for s in config.sources.values() for t in s.events}
    return Gateway(
        sources=sources,
        validators=load_schemas(schema_folder, types),
        tolerance_seconds=config.tolerance_seconds,
        max_body_bytes=config.max_body_bytes,
        rate_requests=config.rate_limit.requests,
        rate_window_seconds=config.rate_limit.window_seconds,
        trusted_proxies=frozenset(config.trusted_proxies),
        rate_shared=config.rate_limit.shared,
    )


def load_gateway(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    load_block: SecretLoader | None = None,
) -> Gateway:
    """The gateway of the file at ``path`` (schemas relative to it); raises :class:`ConfigFileError`."""
    config = load_yaml_model(path, GatewayConfig)
    folder = Path(config.schemas)
    if not folder.is_absolute():
        folder = path.parent / folder
    return build_gateway(config, folder, environ=environ, load_block=load_block)
