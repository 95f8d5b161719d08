"""The guard every console request passes: sign-in for reads, CSRF then operators for actions,
whatever the route (a route added later is guarded without doing anything)."""

import falcon
import falcon.testing
import pytest

from services.console.access.guard import Guard
from services.console.access.login_csrf import LOGIN_COOKIE, LoginTokens
from services.console.access.session import COOKIE, SessionCodec
from services.console.registry.client import Credentials
from shared.config import ConsoleConfig

CODEC = SessionCodec("secret", ttl=3600)
LOGIN_TOKENS = LoginTokens("secret", ttl=3600)


class Action:
    def on_get(self, req, resp):
        resp.media = {"user": req.context.session.user}

    def on_post(self, req, resp):
        resp.media = {"done": True}


class ReadersMayAct(Action):
    readers_may_act = True


class Public:
    public = True

    def on_get(self, req, resp):
        resp.media = {"token": LOGIN_TOKENS.issue(req, resp)}

    def on_post(self, req, resp):
        resp.media = {"public": True}


def client(anonymous: bool = False, operators=("alice",)) -> falcon.testing.TestClient:
    app = falcon.App(middleware=[Guard(CODEC, ConsoleConfig(operators=tuple(operators)),
                                       anonymous, LOGIN_TOKENS)])
    app.add_route("/thing", Action())
    app.add_route("/api/thing", Action())
    app.add_route("/logout", ReadersMayAct())
    app.add_route("/login", Public())
    return falcon.testing.TestClient(app)


def cookie_for(user: str):
    session = CODEC.new(user, Credentials(user, "pw"))
    return session, {"Cookie": f"{COOKIE}={CODEC.dump(session)}"}


def test_reads_need_a_session():
    c = client()
    r = c.simulate_get("/thing")
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=%2Fthing"
    assert c.simulate_get("/api/thing").status_code == 401
    _, headers = cookie_for("bob")
    assert c.simulate_get("/thing", headers=headers).json == {"user": "bob"}


@pytest.mark.parametrize("user, token, status", [
    ("alice", None, 403),          # an operator without the token
    ("alice", "forged", 403),      # an operator with a wrong one
    ("bob", "valid", 403),         # a valid token, but not an operator
    ("alice", "valid", 200),
])
def test_actions_need_the_csrf_token_then_an_operator(user, token, status):
    session, headers = cookie_for(user)
    if token is not None:
        headers["X-CSRF-Token"] = session.csrf if token == "valid" else token
    assert client().simulate_post("/thing", headers=headers).status_code == status


def test_the_form_field_carries_the_token_too():
    session, headers = cookie_for("alice")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    r = client().simulate_post("/thing", headers=headers, body=f"csrf_token={session.csrf}")
    assert r.status_code == 200


def test_an_action_without_any_session_is_403():
    assert client().simulate_post("/thing").status_code == 403


def test_readers_may_sign_out_with_the_token_and_login_is_public():
    session, headers = cookie_for("bob")
    c = client()
    assert c.simulate_post("/logout", headers=headers).status_code == 403
    headers["X-CSRF-Token"] = session.csrf
    assert c.simulate_post("/logout", headers=headers).status_code == 200
    assert c.simulate_get("/login").status_code == 200  # no session needed


def test_the_sign_in_form_needs_its_login_token_cookie_and_field_alike():
    c = client()
    served = c.simulate_get("/login")
    token, cookie = served.json["token"], served.cookies[LOGIN_COOKIE]
    assert cookie.path == "/login" and cookie.http_only
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with_cookie = {**form, "Cookie": f"{LOGIN_COOKIE}={cookie.value}"}
    # A form posted from another site has neither, or a token without the cookie.
    assert c.simulate_post("/login", headers=form, body="username=a").status_code == 403
    assert c.simulate_post("/login", headers=form,
                           body=f"csrf_token={token}").status_code == 403
    assert c.simulate_post("/login", headers=with_cookie,
                           body="csrf_token=forged").status_code == 403
    assert c.simulate_post("/login", headers=with_cookie,
                           body=f"csrf_token={token}").json == {"public": True}
    # A cookie signed under another secret is no good.
    other = LoginTokens("another secret", ttl=3600)
    forged = other._signer.dumps(token)
    assert c.simulate_post("/login", body=f"csrf_token={token}",
                           headers={**form, "Cookie": f"{LOGIN_COOKIE}={forged}"}).status_code == 403


def test_without_registry_auth_everyone_reads_as_anonymous_and_acts_only_if_listed():
    c = client(anonymous=True)
    r = c.simulate_get("/thing")
    assert r.json == {"user": "anonymous"} and COOKIE in r.cookies
    cookie = {"Cookie": f"{COOKIE}={r.cookies[COOKIE].value}"}
    token = CODEC.load(r.cookies[COOKIE].value).csrf
    assert c.simulate_post("/thing", headers={**cookie, "X-CSRF-Token": token}).status_code == 403
    listed = client(anonymous=True, operators=("anonymous",))
    assert listed.simulate_post("/thing",
                                headers={**cookie, "X-CSRF-Token": token}).status_code == 200
    # A session made while the registry had users is not valid without them, and the reverse.
    _, alice = cookie_for("alice")
    assert c.simulate_get("/api/thing", headers=alice).json == {"user": "anonymous"}
