"""The console's session cookie: signed, the password sealed, nothing forgeable."""

import base64

from itsdangerous import URLSafeTimedSerializer

from services.console.access.session import SessionCodec
from services.console.registry.client import Credentials

SECRET = "http-secret"


def test_a_session_survives_the_round_trip():
    codec = SessionCodec(SECRET, ttl=60)
    session = codec.new("alice", Credentials("alice", "s3cret-pw"))
    loaded = codec.load(codec.dump(session))
    assert loaded == session
    assert loaded.credentials.password == "s3cret-pw"


def test_neither_the_password_nor_the_secret_is_readable_in_the_cookie():
    codec = SessionCodec(SECRET, ttl=60)
    cookie = codec.dump(codec.new("alice", Credentials("alice", "s3cret-pw")))
    payload = cookie.split(".")[0].lstrip(".")
    padded = payload + "=" * (-len(payload) % 4)
    decoded = base64.urlsafe_b64decode(padded)
    for text in (cookie.encode(), decoded):
        assert b"s3cret-pw" not in text and SECRET.encode() not in text


def test_an_altered_or_foreign_cookie_is_no_session():
    codec = SessionCodec(SECRET, ttl=60)
    cookie = codec.dump(codec.new("bob", Credentials("bob", "pw")))
    assert codec.load(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) is None
    assert SessionCodec("another-secret", ttl=60).load(cookie) is None
    assert codec.load("") is None and codec.load(None) is None and codec.load("x.y.z") is None


def test_a_cookie_signed_with_the_secret_itself_is_refused():
    # Keys are derived from http.secret; the secret itself signs nothing.
    forged = URLSafeTimedSerializer(SECRET, salt="console-session").dumps(
        {"u": "alice", "x": "t", "p": None})
    assert SessionCodec(SECRET, ttl=60).load(forged) is None


def test_an_expired_session_is_no_session():
    codec = SessionCodec(SECRET, ttl=60)
    cookie = codec.dump(codec.new("alice", None))
    assert SessionCodec(SECRET, ttl=-1).load(cookie) is None


def test_csrf_tokens_differ_per_session_and_are_compared_whole():
    a = SessionCodec.new("alice", None)
    b = SessionCodec.new("alice", None)
    assert a.csrf != b.csrf and len(a.csrf) >= 32
    assert a.csrf_matches(a.csrf)
    assert not a.csrf_matches(b.csrf)
    assert not a.csrf_matches("") and not a.csrf_matches(None)
    assert not a.csrf_matches(a.csrf[:-1])
