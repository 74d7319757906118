"""The schema as a committed artefact: app/api/schema.graphql.

    python -m app.api.sdl           write the file from the code
    python -m app.api.sdl --check   exit 1 when the file and the code differ

tests/api/test_schema_file.py fails when they differ, so a schema change shows in review.
"""

from __future__ import annotations

import sys
from pathlib import Path

SDL_FILE = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    from app.api.schema import schema

    return schema.as_str().rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = sdl()
    if "--check" in argv:
        if not SDL_FILE.exists() or SDL_FILE.read_text() != text:
            print(f"{SDL_FILE} is out of date: run python -m app.api.sdl", file=sys.stderr)
            return 1
        return 0
    SDL_FILE.write_text(text)
    print(f"wrote {SDL_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
