"""Settings, read once (from the environment and the command line) and passed down."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.privacy import SuppressionKey
from app.domain.roles import Role
from app.domain.rules import Rules, RulesError
from app.domain.traits import TraitsConfig, TraitsError
from app.stores.keys import resolve_key

ROLES = tuple(role.value for role in Role)
# The settings of `idgraph serve --workers N`, as the command read them, for its workers:
# uvicorn starts them from an import string, and the environment is what they inherit.
WORKER_SETTINGS = "IDGRAPH_WORKER_SETTINGS"
T = TypeVar("T")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDGRAPH_", extra="ignore")

    store: str = Field(
        default="sqlite:///idgraph.db",
        description="Store URL: sqlite:///path/to/file.db, or neo4j://user:password@host:7687",
    )
    default_region: str = Field(
        default="NL", description="Region for phone numbers written without a country code"
    )
    api_keys: str = Field(
        default="",
        description="Comma-separated key:role pairs (roles: reader, steward, admin); "
        "empty means local development mode",
    )
    rules_file: str | None = Field(
        default=None, description="TOML file of linking rules; the built-in defaults otherwise"
    )
    traits_file: str | None = Field(
        default=None,
        description="TOML file of computed traits (docs/segments.md); the built-in ones "
        "otherwise",
    )
    neo4j_database: str = Field(default="neo4j", description="Neo4j database name")
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="Events per write")
    api_max_depth: int = Field(default=10, ge=2, le=50, description="Deepest GraphQL query")
    api_max_cost: int = Field(
        default=20_000, ge=10, description="Largest estimated query cost (see docs/api.md)"
    )
    api_max_body_bytes: int = Field(
        default=1_000_000, ge=1_000,
        description="Largest GraphQL request: body, query string or WebSocket message, in "
        "bytes",
    )
    api_max_query_tokens: int = Field(
        default=10_000, ge=100,
        description="Most tokens (names, punctuation, values) in one GraphQL document",
    )
    api_max_json_depth: int = Field(
        default=64, ge=4, le=500,
        description="Deepest nesting of a request's JSON: body, variables, WebSocket message",
    )
    api_query_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="Longest a query over HTTP may run before it is stopped (mutations are "
        "never stopped)",
    )
    api_max_search_chars: int = Field(
        default=200, ge=3, le=10_000, description="Longest searchCustomers text, in characters"
    )
    api_max_search_words: int = Field(
        default=10, ge=1, le=100, description="Most words in a searchCustomers text"
    )
    api_read_model: bool = Field(
        default=True,
        description="Serve the profile query's common reads from each customer's profile "
        "document (one key lookup); false: from the graph, as every other read",
    )
    api_max_ingest_events: int = Field(
        default=1000, ge=1, le=100_000, description="Most events one ingestEvents call takes"
    )
    api_persisted_queries: int = Field(
        default=1000, ge=0, le=100_000,
        description="Most documents the automatic persisted queries registry keeps per "
        "process (0: persisted queries off)",
    )
    api_introspection: bool = Field(
        default=True, description="Answer schema introspection (and serve GraphiQL)"
    )
    api_max_definition_chars: int = Field(
        default=10_000, ge=100, le=1_000_000,
        description="Longest segment definition accepted by defineSegment / updateSegment",
    )
    api_max_definition_conditions: int = Field(
        default=50, ge=1, le=10_000,
        description="Most conditions (with the comparisons of `where` filters) in a segment "
        "definition accepted by defineSegment / updateSegment",
    )
    api_max_definition_nesting: int = Field(
        default=10, ge=1, le=100,
        description="Deepest nesting of AND, OR and NOT in a segment definition accepted by "
        "defineSegment / updateSegment",
    )
    api_allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names the API answers to (*.example.com for its "
        "subdomains, * for any); empty: loopback names only without API keys, any with keys",
    )
    api_cors_origins: str = Field(
        default="",
        description="Comma-separated origins browsers may call the API from; * for any; "
        "empty: no cross-origin calls",
    )
    api_changes_kafka: str = Field(
        default="",
        description="Kafka bootstrap servers whose changes topic feeds subscriptions (needed "
        "with several API replicas); empty: an in-process bus, one replica only",
    )
    api_changes_topic: str = Field(
        default="idgraph.changes", description="The changes topic the loaders publish to"
    )
    suppression_key: SecretStr = Field(
        default=SecretStr(""),
        description="Secret of the suppression list's keyed hashes (docs/privacy.md), at "
        "least 16 characters; the same for every process of one store",
    )
    suppression_key_file: str | None = Field(
        default=None,
        description="File that holds the suppression key when IDGRAPH_SUPPRESSION_KEY is "
        "not set, made with a random key when missing; default: beside a SQLite database, "
        "~/.config/idgraph/suppression.key for Neo4j",
    )
    test_kill_after_commit: int = Field(
        default=0, ge=0,
        description="For crash tests only: `idgraph consume` kills itself (SIGKILL) right "
        "after its Nth write commits, before anything else of that batch happens; 0: never",
    )

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("default_region must be a two-letter region code such as NL or US")
        return value.upper()

    def traits(self) -> TraitsConfig:
        """The computed traits; raises TraitsError naming the file and the fault."""
        if not self.traits_file:
            return TraitsConfig.default()
        return _from_file(self.traits_file, TraitsConfig.from_toml, TraitsError)

    def rules(self) -> Rules:
        """The linking rules; raises RulesError naming the file and the fault."""
        if not self.rules_file:
            return Rules.default()
        return _from_file(self.rules_file, Rules.from_toml, RulesError)

    def suppression(self) -> SuppressionKey:
        """The suppression key; raises SuppressionKeyError saying what to set."""
        return resolve_key(self.store, self.suppression_key.get_secret_value(),
                           self.suppression_key_file)

    def to_json(self) -> str:
        """Every setting, secrets included: for the worker processes (WORKER_SETTINGS)."""
        return json.dumps({**self.model_dump(mode="json"),
                           "suppression_key": self.suppression_key.get_secret_value()})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """The settings to_json wrote, as they were: the environment is not read again."""
        return cls.model_validate_json(text)

    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.api_cors_origins.split(",") if o.strip()]

    def allowed_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.api_allowed_hosts.split(",") if h.strip()]

    def api_key_roles(self) -> dict[str, str]:
        """The keys and their roles. Raises ValueError naming the entry by its position
        only: a message must not show any part of a key."""
        roles: dict[str, str] = {}
        entries = [p.strip() for p in self.api_keys.split(",") if p.strip()]
        for n, item in enumerate(entries, 1):
            where = f"IDGRAPH_API_KEYS entry {n} of {len(entries)}"
            key, sep, role = item.rpartition(":")
            if not sep or not key or role not in ROLES:
                raise ValueError(f"{where}: expected key:role with role one of "
                                 f"{', '.join(ROLES)}")
            if is_placeholder(key):
                raise ValueError(f"{where}: the key is a placeholder from an example; set "
                                 f"a secret one, e.g. IDGRAPH_API_KEYS=$(openssl rand -hex 24)"
                                 f":{role}")
            roles[key] = role
        return roles


PLACEHOLDER_MARKERS = ("replace-me", "replace_me", "replaceme", "change-me", "change_me",
                       "changeme", "placeholder", "your-key", "your_key", "<")


def is_placeholder(key: str) -> bool:
    """Whether a key is one of the placeholders examples use (replace-me-admin-key,
    changeme, <your-key>): anyone who read the example knows it."""
    lowered = key.lower()
    return any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def _from_file(path: str, parse: Callable[[str], T], error: type[ValueError]) -> T:
    """Parse a configuration file; a fault names the file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return parse(text)
    except error as exc:
        raise error(f"{path}: {exc}") from None
