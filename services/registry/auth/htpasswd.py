"""``auth.htpasswd``: HTTP Basic against an Apache htpasswd file of bcrypt entries.

Like the reference, only bcrypt (``$2y$``/``$2a$``/``$2b$``) entries can succeed. The file is
re-read when its mtime, size or inode changes, so users can be added without a restart.
A bcrypt check costs tens of milliseconds and a push makes dozens of requests, so a
successful (user, password) pair is remembered as a keyed HMAC (never the password) until the
file changes. A failure costs one bcrypt check at a cost the file uses, whether the user exists
or not (see :meth:`HtpasswdAuthenticator.dummy_cost`).
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
# An unknown user (or a known one whose entry is not bcrypt, which can never succeed) is checked
# against this salt and hash at a cost the file's own entries use, so it takes the time a wrong
# password takes and response times do not reveal which users exist. bcrypt's time is set by
# the cost in the hash alone: any cost can be put in front of the same 53 characters.
_DUMMY_SALT_AND_HASH = b"XHcxTiGdA.y0gk.6yaX.ledK2x54O6E5vQ6.8YcjtRUbayHaSTc36"
_DEFAULT_COST = 10
_BCRYPT_PREFIXES = (b"$2y$", b"$2a$", b"$2b$")


def parse_htpasswd(text: str) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        user, _, hashed = line.partition(":")
        entries[user] = hashed.strip().encode()
    return entries


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost of a bcrypt entry (``$2y$05$...`` -> 5); None for anything else."""
    if not hashed.startswith(_BCRYPT_PREFIXES) or hashed[6:7] != b"$" or not hashed[4:6].isdigit():
        return None
    return int(hashed[4:6])


def dummy_hash(cost: int) -> bytes:
    return b"$2b$%02d$" % cost + _DUMMY_SALT_AND_HASH


def check_bcrypt(password: str, hashed: bytes) -> bool:
    if not hashed.startswith(_BCRYPT_PREFIXES):
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
        self._costs: list[int] = []  # the cost of each bcrypt entry, sorted
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
            self._costs = sorted(c for c in map(bcrypt_cost, self._entries.values()) if c)
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

    def dummy_cost(self, user: str) -> int:
        """The cost an unknown ``user`` is checked at: that of one of the file's entries,
        picked by a keyed hash of the name (weighted as the file is, and the same for a name
        every time, so repeating a request tells nothing more)."""
        costs = self._costs
        if not costs:
            return _DEFAULT_COST
        pick = hmac.new(self._key, user.encode(), hashlib.sha256).digest()
        return costs[int.from_bytes(pick[:8], "big") % len(costs)]

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
        if hashed is None or bcrypt_cost(hashed) is None:
            check_bcrypt(password, dummy_hash(self.dummy_cost(user)))
            valid = False
        else:
            valid = check_bcrypt(password, hashed)
        if not valid:
            log.info(kv("authentication failed", auth="htpasswd", user=user))
            raise self._fail("invalid username or password")
        with self._lock:
            if len(self._remembered) >= _REMEMBERED_MAX:
                self._remembered.clear()
            self._remembered.add(token)
        return Principal(user)
