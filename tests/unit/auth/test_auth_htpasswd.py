"""htpasswd authentication: Basic credentials against bcrypt entries, reloaded on change."""

from __future__ import annotations

import base64
import logging
import os

import bcrypt
import pytest

from services.registry.auth import (
    AccessScope,
    AuthError,
    HtpasswdAuthenticator,
    Principal,
    build_authenticator,
)
from shared.config import ConfigError, parse_config

SCOPE = AccessScope("library/app", ("pull", "push"))


def entry(user: str, password: str, prefix: bytes = b"$2y$") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4))
    return f"{user}:{(prefix + hashed[4:]).decode()}\n"


def basic(user: str, password: str) -> dict[str, str]:
    return {"AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("# users\n" + entry("alice", "s3cret") + entry("bob", "pw:with:colons", b"$2b$")
                    + "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n\n")
    return path


@pytest.fixture
def auth(htpasswd) -> HtpasswdAuthenticator:
    config = parse_config({"storage": {"inmemory": {}},
                           "auth": {"htpasswd": {"realm": "test realm", "path": str(htpasswd)}}})
    built = build_authenticator(config)
    assert isinstance(built, HtpasswdAuthenticator)
    return built


def refused(auth, headers) -> AuthError:
    with pytest.raises(AuthError) as info:
        auth.authenticate(headers, SCOPE)
    return info.value


def test_valid_credentials(auth):
    assert auth.authenticate(basic("alice", "s3cret"), SCOPE) == Principal("alice")
    assert auth.authenticate(basic("alice", "s3cret"), SCOPE) == Principal("alice")  # remembered
    assert auth.authenticate(basic("bob", "pw:with:colons"), AccessScope.base()) == Principal("bob")
    # any header-name case works
    assert auth.authenticate({"authorization": basic("alice", "s3cret")["AUTHORIZATION"]},
                             SCOPE) == Principal("alice")


def test_wrong_password_and_unknown_user(auth, caplog):
    caplog.set_level(logging.INFO)
    for headers in (basic("alice", "wrong"), basic("mallory", "s3cret"),
                    basic("carol", "password")):  # carol's entry is not bcrypt
        err = refused(auth, headers)
        assert (err.code, err.status) == ("UNAUTHORIZED", 401)
        assert err.challenge == 'Basic realm="test realm"'
    assert "wrong" not in caplog.text and "s3cret" not in caplog.text


def test_missing_and_malformed_headers(auth):
    for headers in ({}, {"Authorization": "Basic"}, {"Authorization": "Bearer abc"},
                    {"Authorization": "Basic !!!notbase64"},
                    {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
                    {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}):
        err = refused(auth, headers)
        assert err.status == 401 and err.challenge == 'Basic realm="test realm"'


def test_file_reloaded_when_changed(auth, htpasswd):
    assert refused(auth, basic("dave", "new")).status == 401
    htpasswd.write_text(entry("dave", "new"))
    st = htpasswd.stat()
    os.utime(htpasswd, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert auth.authenticate(basic("dave", "new"), SCOPE) == Principal("dave")
    # alice is gone, and her remembered success with her
    assert refused(auth, basic("alice", "s3cret")).status == 401


def test_unreadable_file_at_start_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        HtpasswdAuthenticator("r", str(tmp_path / "missing"))
    assert info.value.key == "auth.htpasswd.path"


def test_file_vanishing_later_keeps_last_users(auth, htpasswd):
    htpasswd.unlink()
    assert auth.authenticate(basic("alice", "s3cret"), SCOPE) == Principal("alice")
    assert refused(auth, basic("alice", "nope")).status == 401


def test_no_auth_configured():
    assert build_authenticator(parse_config({"storage": {"inmemory": {}}})) is None


def _median_seconds(auth, headers, runs: int) -> float:
    import statistics
    import time

    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        with pytest.raises(AuthError):
            auth.authenticate(headers, SCOPE)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


@pytest.mark.parametrize("cost", [5, 10])
def test_unknown_user_costs_what_a_wrong_password_costs(tmp_path, cost):
    """Response times must not tell which users exist: an unknown user, a known user with a
    wrong password and a known user whose entry is not bcrypt (which can never succeed) all
    cost one bcrypt check at the file's cost. ``htpasswd -B`` writes cost 5; the dummy hash
    used to be cost 10 (~70 ms against ~4 ms). Medians of interleaved runs, compared with a
    generous ratio, so a loaded machine does not make it flaky: the gap measured before was
    more than tenfold."""
    path = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(cost)).decode()
    path.write_text(f"alice:{hashed}\ncarol:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    auth = HtpasswdAuthenticator("r", str(path))
    runs = 9 if cost <= 5 else 5
    for _ in range(2):  # warm up: the file is read, bcrypt is loaded
        with pytest.raises(AuthError):
            auth.authenticate(basic("nobody", "x"), SCOPE)
    medians = {"unknown": [], "wrong": [], "not-bcrypt": []}
    for _ in range(3):  # interleaved, so a burst of load hits every kind alike
        medians["unknown"].append(_median_seconds(auth, basic("mallory", "right"), runs))
        medians["wrong"].append(_median_seconds(auth, basic("alice", "wrong"), runs))
        medians["not-bcrypt"].append(_median_seconds(auth, basic("carol", "anything"), runs))
    wrong = min(medians["wrong"])
    for kind in ("unknown", "not-bcrypt"):
        ratio = min(medians[kind]) / wrong
        assert 1 / 3 < ratio < 3, (kind, cost, medians)


def test_unknown_users_are_checked_at_the_costs_the_file_uses(tmp_path):
    """With entries of several costs, each unknown user is checked at one of them, the same
    one every time (a name that cost 5 once and 10 the next would stand out)."""
    path = tmp_path / "htpasswd"
    path.write_text("".join(
        f"u{i}:{bcrypt.hashpw(b'pw', bcrypt.gensalt(cost)).decode()}\n"
        for i, cost in enumerate([4, 4, 5, 6])))
    auth = HtpasswdAuthenticator("r", str(path))
    chosen = {user: auth.dummy_cost(user) for user in (f"x{i}" for i in range(200))}
    assert set(chosen.values()) == {4, 5, 6}
    assert all(auth.dummy_cost(user) == cost for user, cost in chosen.items())
