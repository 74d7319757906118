"""`idgraph serve`: local development mode without keys, and keys when exposed."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.api.test_end_to_end import IDGRAPH, free_port, wait_until_healthy


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    return {**clean, "COLUMNS": "200", **extra}


def test_without_keys_serve_refuses_a_non_loopback_host(tmp_path):
    done = subprocess.run([*IDGRAPH, "serve", "--store", f"sqlite:///{tmp_path}/x.db",
                           "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60,
                          env=env())
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without API keys" in done.stderr
    assert "IDGRAPH_API_KEYS" in done.stderr and "Traceback" not in done.stderr


def refused_at_start_up(tmp_path, keys: str) -> str:
    """What `idgraph serve` printed when it refused these keys (exit status 2)."""
    done = subprocess.run([*IDGRAPH, "serve", "--store", f"sqlite:///{tmp_path}/x.db"],
                          capture_output=True, text=True, timeout=60,
                          env=env(IDGRAPH_API_KEYS=keys))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    return done.stderr


def test_bad_keys_are_refused_at_start_up(tmp_path):
    said = refused_at_start_up(tmp_path, "secret-key:superuser")
    assert "expected key:role" in said and "secret" not in said


def test_a_placeholder_key_is_refused_at_start_up(tmp_path):
    said = refused_at_start_up(tmp_path, "replace-me-admin-key:admin")
    assert "placeholder" in said and "openssl rand" in said and "replace-me" not in said


def serve(tmp_path, *options: str, **extra: str) -> tuple[str, subprocess.Popen]:
    port = free_port()
    server = subprocess.Popen(
        [*IDGRAPH, "serve", "--store", f"sqlite:///{tmp_path}/x.db", "--port", str(port),
         *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env(**extra))
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, server)
    return url, server


def stop(server: subprocess.Popen) -> str:
    server.terminate()
    server.wait(timeout=20)
    return server.stderr.read() if server.stderr else ""


def test_without_keys_serve_runs_on_loopback_with_every_role_and_says_so(tmp_path):
    url, server = serve(tmp_path)
    try:
        viewer = httpx.post(url + "/graphql", json={"query": "{ viewer { role actor "
                                                    "developmentMode } }"}, timeout=10).json()
    finally:
        log = stop(server)
    assert viewer["data"]["viewer"] == {"role": "ADMIN", "actor": "local-dev",
                                        "developmentMode": True}
    assert "LOCAL DEVELOPMENT MODE" in log and "127.0.0.1 only" in log


def test_with_keys_serve_asks_for_one(tmp_path):
    url, server = serve(tmp_path, IDGRAPH_API_KEYS="k-reader-1:reader")
    try:
        refused = httpx.post(url + "/graphql", json={"query": "{ viewer { role } }"}, timeout=10)
        allowed = httpx.post(url + "/graphql", json={"query": "{ viewer { role } }"},
                             headers={"Authorization": "Bearer k-reader-1"}, timeout=10)
    finally:
        log = stop(server)
    assert refused.status_code == 401
    assert allowed.json() == {"data": {"viewer": {"role": "READER"}}}
    assert "LOCAL DEVELOPMENT MODE" not in log


def test_several_workers_share_the_port_and_the_settings(tmp_path):
    url, server = serve(tmp_path, "--workers", "2", IDGRAPH_API_KEYS="k-reader-1:reader")
    try:
        answers = [httpx.post(url + "/graphql", json={"query": "{ viewer { role } }"},
                              headers={"Authorization": "Bearer k-reader-1"}, timeout=10)
                   for _ in range(4)]
    finally:
        log = stop(server)
    assert all(a.json() == {"data": {"viewer": {"role": "READER"}}} for a in answers)
    assert "with 2 workers" in log
    assert "Traceback" not in log
