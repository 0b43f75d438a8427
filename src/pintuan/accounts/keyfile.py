"""The signing key of a debug server started without PINTUAN_SECRET_KEY.

No key written in the source is ever accepted: a debug server generates a
random key once and keeps it, readable by its owner only, beside the SQLite
database (in the working directory when the database is not a file), so that
tokens survive restarts and every process on that database signs alike.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from pintuan.settings import MIN_SECRET_KEY_BYTES, Settings, SettingsError

KEY_FILE_SUFFIX = ".secret-key"
NON_FILE_KEY_NAME = "pintuan" + KEY_FILE_SUFFIX


def key_file_path(settings: Settings) -> Path:
    """``pintuan.db`` keeps its key in ``pintuan.db.secret-key`` beside it."""
    if not settings.is_postgres:
        parts = urlsplit(settings.database_url)
        database = parts.netloc + parts.path
        if database and database != ":memory:":
            path = Path(database)
            return path.with_name(path.name + KEY_FILE_SUFFIX)
    return Path(NON_FILE_KEY_NAME)


def with_signing_key(settings: Settings) -> Settings:
    """The settings a server signs with: a debug server without a key gets its own."""
    if settings.secret_key or not settings.debug:
        return settings
    return replace(settings, secret_key=_load_or_create(key_file_path(settings)))


def _load_or_create(path: Path) -> str:
    if not path.exists():
        _create(path)
    key = path.read_text().strip()
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(f"{path} holds no usable key; delete it to generate a new one")
    return key


def _create(path: Path) -> None:
    """Written whole under a temporary name, then linked into place: processes starting
    together all end up with the one key that won the link."""
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
