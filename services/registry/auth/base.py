"""What every authenticator shares: the access a request asks for, who made it, and the
error that turns into a 401/403 with a ``WWW-Authenticate`` challenge."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = ("pull", "push", "delete", "*")


@dataclass(frozen=True)
class AccessScope:
    """The access one request needs.

    ``repository`` None with no actions is the base endpoint ``/v2/`` (any valid credential
    will do); ``repository`` None with ``("*",)`` is ``/v2/_catalog``, which token auth maps
    to the reference's ``registry:catalog:*`` resource. Use :meth:`base` and :meth:`catalog`.
    ``also`` is further access the same request needs: a cross-repository mount needs
    ``pull`` on its ``from`` repository, as in the reference.
    """

    repository: str | None
    actions: tuple[str, ...] = ()
    also: tuple[AccessScope, ...] = ()

    def __post_init__(self) -> None:
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown actions {unknown}; expected some of {ACTIONS}")

    @classmethod
    def base(cls) -> AccessScope:
        return cls(None, ())

    @classmethod
    def catalog(cls) -> AccessScope:
        return cls(None, ("*",))

    @property
    def resource(self) -> tuple[str, str] | None:
        """(type, name) as in the token specification's access claims; None for /v2/."""
        if self.repository is not None:
            return "repository", self.repository
        if self.actions:
            return "registry", "catalog"
        return None

    def parts(self) -> tuple[AccessScope, ...]:
        """This access and every ``also``: what must all be granted."""
        return (self, *(p for a in self.also for p in a.parts()))

    def scope_param(self) -> str | None:
        """The ``scope`` of a Bearer challenge: ``repository:library/a:pull,push``, the
        parts separated by spaces (``... repository:library/b:pull``) as the reference does."""
        params = []
        for part in self.parts():
            resource = part.resource
            if resource is not None:
                params.append(f"{resource[0]}:{resource[1]}:"
                              f"{','.join(dict.fromkeys(part.actions))}")
        return " ".join(params) or None

    def detail(self) -> list[dict[str, str]] | None:
        """The error ``detail`` the reference sends: one access record per action."""
        records = [{"Type": resource[0], "Name": resource[1], "Action": a}
                   for part in self.parts() if (resource := part.resource) is not None
                   for a in dict.fromkeys(part.actions)]
        return records or None


@dataclass(frozen=True)
class Principal:
    name: str


class AuthError(Exception):
    """A refused request. ``code`` is the spec's error code (``UNAUTHORIZED``: 401, ask for
    credentials; ``DENIED``: 403, the credentials are fine but not enough); ``challenge`` is
    the ``WWW-Authenticate`` value to send."""

    def __init__(self, code: str, status: int, challenge: str, detail: Any = None,
                 message: str = "authentication required"):
        super().__init__(message)
        self.code = code
        self.status = status
        self.challenge = challenge
        self.detail = detail
        self.message = message

    @classmethod
    def unauthorized(cls, challenge: str, detail: Any = None,
                     message: str = "authentication required") -> AuthError:
        return cls("UNAUTHORIZED", 401, challenge, detail, message)

    @classmethod
    def denied(cls, challenge: str, detail: Any = None,
               message: str = "requested access to the resource is denied") -> AuthError:
        return cls("DENIED", 403, challenge, detail, message)


class Authenticator(ABC):
    kind: str = "abstract"

    @abstractmethod
    def authenticate(self, headers: Mapping[str, str], scope: AccessScope) -> Principal:
        """The request's principal, or :class:`AuthError`."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header, whatever the case of the mapping's keys (Falcon's ``req.headers``
    are upper case, WSGI environs and test dicts are not)."""
    for key in (name, name.upper(), name.lower()):
        value = headers.get(key)
        if value is not None:
            return value
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def authorization(headers: Mapping[str, str]) -> str | None:
    """The ``Authorization`` header."""
    return header(headers, "Authorization")
