"""Node.js tools the API tests drive (tests/conformance: the graphql-http audit, graphql-codegen
and tsc), run without blocking the event loop a server under test runs in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

CONFORMANCE = Path(__file__).parents[1] / "conformance"


async def node(*command: str) -> str:
    """Run a Node.js command in tests/conformance; its output."""
    process = await asyncio.create_subprocess_exec(
        *command, cwd=CONFORMANCE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, (out + err).decode()
    return out.decode()


async def installed() -> None:
    """npm ci when a dependency of tests/conformance/package.json is missing (a fresh machine,
    or node_modules from before the dependency was added). Node.js and npm are part of the
    toolchain: the explorer is built with them."""
    wanted = json.loads((CONFORMANCE / "package.json").read_text())["dependencies"]
    if not all((CONFORMANCE / "node_modules" / name / "package.json").is_file()
               for name in wanted):
        await node("npm", "ci", "--no-audit", "--no-fund")
