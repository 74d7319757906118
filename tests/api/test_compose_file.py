"""docker-compose.yml: no working default key, nothing published beyond the host unless
asked, and Kafka's topics and offsets on a volume that outlives the container."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from app.config import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_api_has_no_default_key_and_compose_says_how_to_set_one():
    keys = services()["api"]["environment"]["IDGRAPH_API_KEYS"]
    found = re.fullmatch(r"\$\{IDGRAPH_API_KEYS:\?(?P<message>[^}]+)\}", keys)
    assert found, keys  # compose stops with the message when the variable is unset
    assert "openssl rand" in found["message"]
    for name, service in services().items():
        assert "IDGRAPH_API_KEYS" not in (service.get("environment") or {}) or name == "api"


def test_the_placeholder_the_old_file_gave_is_refused_by_the_api():
    try:
        Settings(api_keys="replace-me-admin-key:admin").api_key_roles()
    except ValueError as exc:
        assert "placeholder" in str(exc)
    else:
        raise AssertionError("a placeholder key was accepted")


def test_every_port_is_published_on_loopback_unless_asked():
    for name, service in services().items():
        for port in service.get("ports", []):
            host = port.rsplit(":", 2)[0]
            assert host in ("127.0.0.1", "${IDGRAPH_API_BIND:-127.0.0.1}"), (name, port)


def test_kafka_keeps_its_log_directory_on_a_named_volume():
    compose = yaml.safe_load(COMPOSE.read_text())
    kafka = compose["services"]["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    mounts = dict(v.split(":", 1)[::-1] for v in kafka["volumes"])
    assert log_dir in mounts and mounts[log_dir] in compose["volumes"]
    assert not log_dir.startswith("/tmp")
    assert kafka["environment"]["CLUSTER_ID"]  # the same id reads the same metadata
