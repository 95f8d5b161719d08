"""``auth.htpasswd``: HTTP Basic against an Apache htpasswd file of bcrypt entries.

Like the reference, only bcrypt (``$2y$``/``$2a$``/``$2b$``) entries can succeed. The file is
re-read when its mtime, size or inode changes, so users can be added without a restart.
A bcrypt check costs tens of milliseconds and a push makes dozens of requests, so a
successful (user, password) pair is remembered as a keyed HMAC (never the password) until the
file changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Mapping

import bcrypt

from services.registry.auth.base import (
    AccessScope,
    Authenticator,
    AuthError,
    Principal,
    authorization,
)
from shared.config import ConfigError, HtpasswdConfig
from shared.logfmt import kv

log = logging.getLogger(__name__)

_REMEMBERED_MAX = 4096
# Checked against when the user is unknown, so a wrong user costs the time a wrong password
# does and response times do not reveal which users exist.
_DUMMY_HASH = b"$2b$10$XHcxTiGdA.y0gk.6yaX.ledK2x54O6E5vQ6.8YcjtRUbayHaSTc36"


def parse_htpasswd(text: str) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        user, _, hashed = line.partition(":")
        entries[user] = hashed.strip().encode()
    return entries


def check_bcrypt(password: str, hashed: bytes) -> bool:
    if not hashed.startswith((b"$2y$", b"$2a$", b"$2b$")):
        return False
    try:
        return bcrypt.checkpw(password.encode(), hashed)
    except ValueError:  # a malformed hash
        return False


class HtpasswdAuthenticator(Authenticator):
    kind = "htpasswd"

    def __init__(self, realm: str, path: str):
        self.realm = realm
        self.path = path
        self.challenge = f'Basic realm="{realm}"'
        self._lock = threading.Lock()
        self._version: tuple[int, int, int] | None = None
        self._entries: dict[str, bytes] = {}
        self._key = secrets.token_bytes(32)
        self._remembered: set[bytes] = set()
        self._missing_logged = False
        try:
            self._reload_if_changed()
        except OSError as exc:
            raise ConfigError("auth.htpasswd.path", f"cannot read {path}: {exc.strerror}") from None

    @classmethod
    def from_config(cls, config: HtpasswdConfig) -> HtpasswdAuthenticator:
        return cls(config.realm, config.path)

    def _reload_if_changed(self) -> None:
        st = os.stat(self.path)
        version = (st.st_mtime_ns, st.st_size, st.st_ino)
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            with open(self.path, encoding="utf-8", errors="replace") as f:
                self._entries = parse_htpasswd(f.read())
            self._version = version
            self._remembered = set()
        log.info(kv("htpasswd file loaded", path=self.path, users=len(self._entries)))

    def _entries_now(self) -> dict[str, bytes]:
        try:
            self._reload_if_changed()
            self._missing_logged = False
        except OSError as exc:
            # Keep the last users we read rather than lock everyone out over a moment's
            # absence (a Kubernetes secret being swapped, say).
            if not self._missing_logged:
                self._missing_logged = True
                log.warning(kv("htpasswd file unreadable, keeping the users last read",
                               path=self.path, error=exc.strerror))
        return self._entries

    def _fail(self, message: str = "authentication required") -> AuthError:
        return AuthError.unauthorized(self.challenge, message=message)

    def authenticate(self, headers: Mapping[str, str], scope: AccessScope) -> Principal:
        header = authorization(headers)
        if not header:
            raise self._fail()
        kind, _, encoded = header.strip().partition(" ")
        if kind.lower() != "basic" or not encoded:
            raise self._fail()
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise self._fail("malformed basic credentials") from None
        if not sep or not user:
            raise self._fail("malformed basic credentials")
        entries = self._entries_now()
        token = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if token in self._remembered:
            return Principal(user)
        hashed = entries.get(user)
        valid = check_bcrypt(password, hashed if hashed is not None else _DUMMY_HASH)
        if not valid or hashed is None:
            log.info(kv("authentication failed", auth="htpasswd", user=user))
            raise self._fail("invalid username or password")
        with self._lock:
            if len(self._remembered) >= _REMEMBERED_MAX:
                self._remembered.clear()
            self._remembered.add(token)
        return Principal(user)
