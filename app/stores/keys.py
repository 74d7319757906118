"""Where the suppression key comes from (docs/privacy.md, Suppression key).

In order: the key itself (IDGRAPH_SUPPRESSION_KEY), a key file named by
IDGRAPH_SUPPRESSION_KEY_FILE, or the default key file: beside a SQLite database
(`idgraph.db.suppression-key`), and for Neo4j in the user's configuration folder
(`~/.config/idgraph/suppression.key`). A key file that does not exist is created with a
new random key, readable by its owner only. The key is never in the store: a copy of the
store without it does not tell which identifiers were erased.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from app.domain.privacy import MIN_KEY_BYTES, SuppressionKey, SuppressionKeyError

KEY_BYTES = 32


def default_key_file(store_url: str) -> Path | None:
    """None: a store that lives in memory only, whose key may too."""
    if store_url.startswith("sqlite://"):
        path = store_url.removeprefix("sqlite://").removeprefix("/")
        return None if path in ("", ":memory:") else Path(f"{path}.suppression-key")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "idgraph" / "suppression.key"


def key_from_text(text: str) -> SuppressionKey:
    secret = text.strip().encode()
    if len(secret) < MIN_KEY_BYTES:
        raise SuppressionKeyError(f"IDGRAPH_SUPPRESSION_KEY: give at least {MIN_KEY_BYTES} "
                                  f"characters (a random one: python -c 'import secrets; "
                                  f"print(secrets.token_hex(32))')")
    return SuppressionKey(secret)


def load_key_file(path: Path) -> SuppressionKey:
    """The key in the file, made first if there is no file."""
    if not path.exists():
        _create(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SuppressionKeyError(f"{path}: cannot read the suppression key "
                                  f"({exc.strerror})") from None
    try:
        return SuppressionKey(bytes.fromhex(text.strip()))
    except ValueError:
        raise SuppressionKeyError(f"{path}: not a suppression key (expected {KEY_BYTES * 2} "
                                  f"hexadecimal digits)") from None


def write_key_file(path: Path, key: SuppressionKey) -> SuppressionKey:
    """Make the key file of a store that takes over another's suppression list (a replay):
    the key it was made with. Returns the key the file holds (another's, if one beat us)."""
    _create(path, key.secret)
    return load_key_file(path)


def _create(path: Path, secret: bytes | None = None) -> None:
    """Written aside, then linked into place: a process that reads the file sees a whole
    key or none, and when two make one at once, both use the one linked first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write((secret or secrets.token_bytes(KEY_BYTES)).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    except OSError as exc:
        raise SuppressionKeyError(f"{path}: cannot create the suppression key "
                                  f"({exc.strerror})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            aside.unlink()


def resolve_key(store_url: str, key: str = "", key_file: str | None = None) -> SuppressionKey:
    if key:
        return key_from_text(key)
    path = Path(key_file) if key_file else default_key_file(store_url)
    if path is None:
        return SuppressionKey(secrets.token_bytes(KEY_BYTES))
    return load_key_file(path)
