"""Token authentication: JWTs issued here with a test key and self-signed certificate, checked
as the reference checks them (kid / x5c / jwk key lookup, exp, nbf, iss, aud, access)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from falcon import testing

from services.registry.auth import (
    AccessScope,
    AuthError,
    Principal,
    TokenAuthenticator,
    build_authenticator,
)
from services.registry.auth.libtrust import key_id
from services.registry.http import create_app
from shared.config import ConfigError, parse_config
from shared.events import RecordingSink

SERVICE, ISSUER, REALM = "registry.test", "test-issuer", "https://auth.test/token"
SCOPE = AccessScope("library/app", ("pull", "push"))


def make_cert(key, subject: str, issuer_key=None, issuer_name: str | None = None,
              ca: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                          issuer_name or subject)]))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ca_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, rsa_key, ec_key, ca_key):
    certs = [make_cert(rsa_key, "token-rsa"), make_cert(ec_key, "token-ec"),
             make_cert(ca_key, "token-ca", ca=True)]
    path = tmp_path_factory.mktemp("certs") / "bundle.pem"
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


@pytest.fixture(scope="module")
def auth(bundle) -> TokenAuthenticator:
    config = parse_config({"storage": {"inmemory": {}}, "auth": {"token": {
        "realm": REALM, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(bundle)}}})
    built = build_authenticator(config)
    assert isinstance(built, TokenAuthenticator)
    return built


def claims(**overrides):
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "alice", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
            "iat": now - 10, "jti": "j1",
            "access": [{"type": "repository", "name": "library/app", "actions": ["pull", "push"]}]}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def issue(key, alg: str = "RS256", headers=None, **overrides) -> str:
    if headers is None:
        headers = {"kid": key_id(key.public_key())}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(auth, token: str | None, scope: AccessScope = SCOPE) -> AuthError:
    with pytest.raises(AuthError) as info:
        auth.authenticate(bearer(token) if token else {}, scope)
    return info.value


def test_kid_is_libtrust_form(rsa_key):
    kid = key_id(rsa_key.public_key())
    groups = kid.split(":")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups)
    der = rsa_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    expected = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    assert kid.replace(":", "") == expected  # 240 bits: 48 base32 chars, no padding


def test_valid_tokens(auth, rsa_key, ec_key):
    assert auth.authenticate(bearer(issue(rsa_key)), SCOPE) == Principal("alice")
    assert auth.authenticate(bearer(issue(ec_key, "ES256", sub="bob")), SCOPE) == Principal("bob")
    # a list audience containing the service, and a wildcard grant
    token = issue(rsa_key, aud=["other", SERVICE],
                  access=[{"type": "repository", "name": "library/app", "actions": ["*"]}])
    assert auth.authenticate(bearer(token), AccessScope("library/app", ("delete",))).name == "alice"
    # /v2/ needs any valid token, even one with no access at all
    assert auth.authenticate(bearer(issue(rsa_key, access=None)), AccessScope.base()).name == "alice"


def test_x5c_chain_to_bundle(auth, rsa_key, ca_key):
    self_signed = make_cert(rsa_key, "token-rsa")  # a bundle key, in a cert of its own
    x5c = [base64.b64encode(self_signed.public_bytes(Encoding.DER)).decode()]
    assert auth.authenticate(bearer(issue(rsa_key, headers={"x5c": x5c})), SCOPE).name == "alice"

    leaf_key = ec.generate_private_key(ec.SECP256R1())  # not in the bundle, issued by its CA
    leaf = make_cert(leaf_key, "leaf", issuer_key=ca_key, issuer_name="token-ca")
    x5c = [base64.b64encode(leaf.public_bytes(Encoding.DER)).decode()]
    assert auth.authenticate(bearer(issue(leaf_key, "ES256", headers={"x5c": x5c})),
                             SCOPE).name == "alice"

    stranger = ec.generate_private_key(ec.SECP256R1())
    rogue = make_cert(stranger, "token-ca")  # claims the CA's name, signed by itself
    x5c = [base64.b64encode(rogue.public_bytes(Encoding.DER)).decode()]
    err = refused(auth, issue(stranger, "ES256", headers={"x5c": x5c}))
    assert err.status == 401 and 'error="invalid_token"' in err.challenge


def test_embedded_jwk_must_be_trusted(auth, ec_key):
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    assert auth.authenticate(bearer(issue(ec_key, "ES256", headers={"jwk": jwk})), SCOPE)
    other = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(other.public_key(), as_dict=True)
    assert refused(auth, issue(other, "ES256", headers={"jwk": jwk})).status == 401


def _forged(header: object) -> str:
    """A token whose header is ``header`` as given (jwt.encode would refuse most of these)."""
    import json

    def part(doc: object) -> str:
        raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part(header)}.{part(claims())}.{part(b'signature')}"


@pytest.mark.parametrize("header", [
    {"alg": "ES256", "jwk": {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}},
    {"alg": "ES256", "jwk": "not a key"},
    {"alg": "ES256", "jwk": ["not", "a", "key"]},
    {"alg": "ES256", "kid": {"not": "a string"}},
    {"alg": "ES256", "x5c": "not a list"},
    b"[" * 100_000,
], ids=["oct-key", "jwk-string", "jwk-list", "kid-object", "x5c-string", "deep-nesting"])
def test_malformed_headers_are_invalid_token_not_a_crash(auth, header):
    err = refused(auth, _forged(header))
    assert (err.code, err.status) == ("UNAUTHORIZED", 401)
    assert 'error="invalid_token"' in err.challenge


def test_an_embedded_private_key_is_refused(auth, ec_key):
    """The private half of a trusted key in a token's header is not a verification key (and
    a token server that leaks it is not one to trust)."""
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key, as_dict=True)
    assert "d" in jwk
    err = refused(auth, issue(ec_key, "ES256", headers={"jwk": jwk}))
    assert (err.code, err.status) == ("UNAUTHORIZED", 401)


@pytest.mark.parametrize("change", [
    {"exp": int(time.time()) - 3600},           # expired (beyond the 60 s leeway)
    {"nbf": int(time.time()) + 3600},           # not yet valid
    {"aud": "another-registry"},                # wrong audience
    {"iss": "someone-else"},                    # wrong issuer
    {"exp": None},                              # no expiry
])
def test_invalid_claims(auth, rsa_key, change):
    err = refused(auth, issue(rsa_key, **change))
    assert (err.code, err.status) == ("UNAUTHORIZED", 401)
    assert err.challenge == (f'Bearer realm="{REALM}",service="{SERVICE}",'
                             'scope="repository:library/app:pull,push",error="invalid_token"')


def test_wrong_key(auth, rsa_key):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # a kid of the bundle, signed with another key
    assert refused(auth, issue(stranger, headers={"kid": key_id(rsa_key.public_key())})).status \
        == 401
    # a kid nobody knows
    assert refused(auth, issue(stranger)).status == 401
    # no key named at all; an algorithm not allowed; garbage
    assert refused(auth, issue(rsa_key, headers={})).status == 401
    assert refused(auth, jwt.encode(claims(), "s" * 32, algorithm="HS256",
                                    headers={"kid": key_id(rsa_key.public_key())})).status == 401
    assert refused(auth, "not.a.jwt").status == 401


def test_insufficient_scope(auth, rsa_key):
    pull_only = issue(rsa_key, access=[{"type": "repository", "name": "library/app",
                                        "actions": ["pull"]}])
    assert auth.authenticate(bearer(pull_only), AccessScope("library/app", ("pull",)))
    err = refused(auth, pull_only)
    assert (err.code, err.status) == ("DENIED", 403)
    assert err.challenge == (f'Bearer realm="{REALM}",service="{SERVICE}",'
                             'scope="repository:library/app:pull,push",error="insufficient_scope"')
    assert {"Type": "repository", "Name": "library/app", "Action": "push"} in err.detail
    # another repository's grant does not count
    assert refused(auth, pull_only, AccessScope("library/other", ("pull",))).code == "DENIED"
    # the catalog needs registry:catalog:*
    assert refused(auth, pull_only, AccessScope.catalog()).code == "DENIED"
    catalog = issue(rsa_key, access=[{"type": "registry", "name": "catalog", "actions": ["*"]}])
    assert auth.authenticate(bearer(catalog), AccessScope.catalog()).name == "alice"


def test_challenges_without_token(auth):
    err = refused(auth, None)
    assert (err.code, err.status) == ("UNAUTHORIZED", 401)
    assert err.challenge == (f'Bearer realm="{REALM}",service="{SERVICE}",'
                             'scope="repository:library/app:pull,push"')
    assert refused(auth, None, AccessScope.base()).challenge == \
        f'Bearer realm="{REALM}",service="{SERVICE}"'
    assert refused(auth, None, AccessScope.catalog()).challenge.endswith(
        'scope="registry:catalog:*"')
    with pytest.raises(AuthError):
        auth.authenticate({"Authorization": "Basic Zm9vOmJhcg=="}, SCOPE)


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        AccessScope("a", ("write",))


# ---------------------------------------------------------------- autoredirect
# The reference (registry/auth/token/accesscontroller.go, buildAutoRedirectURL): the realm is
# <X-Forwarded-Proto or "https">://<Host header><autoredirectpath>, autoredirectpath defaulting
# to /auth/token; the configured realm is not used.


def token_config(bundle, **token) -> dict:
    return {"storage": {"inmemory": {}}, "auth": {"token": {
        "realm": REALM, "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(bundle),
        **token}}}


def redirecting(bundle, **token) -> TokenAuthenticator:
    built = build_authenticator(parse_config(token_config(bundle, autoredirect=True, **token)))
    assert isinstance(built, TokenAuthenticator)
    return built


def challenge_realm(auth: TokenAuthenticator, headers: dict[str, str]) -> str:
    """The realm of the challenge to a tokenless ``GET /v2/``."""
    with pytest.raises(AuthError) as info:
        auth.authenticate(headers, AccessScope.base())
    realm = info.value.challenge.removeprefix('Bearer realm="').partition('"')[0]
    assert info.value.challenge.startswith(f'Bearer realm="{realm}",service="{SERVICE}"')
    return realm


def test_autoredirect_config(bundle):
    token = parse_config(token_config(bundle, autoredirect=True)).auth.token
    assert token.autoredirect is True and token.autoredirectpath == "/auth/token"
    for given, path in (("/v2/token", "/v2/token"), ("", "/auth/token"),
                        ("auth/token", "/auth/token")):  # Go's URL puts the "/" in
        config = parse_config(token_config(bundle, autoredirect=True, autoredirectpath=given))
        assert config.auth.token.autoredirectpath == path
        assert config.ignored_keys == ()
    with pytest.raises(ConfigError) as err:
        parse_config(token_config(bundle, autoredirect=True, autoredirectpath=["/a"]))
    assert err.value.key == "auth.token.autoredirectpath"
    # Unused without autoredirect, as in the reference: neither checked nor reported ignored.
    config = parse_config(token_config(bundle, autoredirectpath=["/a"]))
    assert config.auth.token.autoredirect is False and config.ignored_keys == ()


def test_autoredirect_realm_from_a_plain_request(bundle):
    auth = redirecting(bundle)
    # No X-Forwarded-Proto: https whatever the request came over, as the reference.
    assert challenge_realm(auth, {"Host": "registry.example:5000"}) == \
        "https://registry.example:5000/auth/token"
    # Header names in any case (Falcon's req.headers are upper case).
    assert challenge_realm(auth, {"HOST": "10.0.0.7:5000"}) == "https://10.0.0.7:5000/auth/token"
    with pytest.raises(AuthError) as info:
        auth.authenticate({"Host": "registry.example"}, SCOPE)
    assert info.value.challenge == ('Bearer realm="https://registry.example/auth/token",'
                                    f'service="{SERVICE}",scope="repository:library/app:pull,push"')


def test_autoredirect_realm_behind_a_proxy(bundle):
    auth = redirecting(bundle)
    assert challenge_realm(auth, {"Host": "registry.example", "X-Forwarded-Proto": "http"}) == \
        "http://registry.example/auth/token"
    # The first proxy's protocol; X-Forwarded-Host is not read (the reference reads r.Host).
    headers = {"host": "registry.example", "x-forwarded-proto": "https, http",
               "x-forwarded-host": "elsewhere.example"}
    assert challenge_realm(auth, headers) == "https://registry.example/auth/token"


def test_autoredirect_realm_with_a_custom_path(bundle, rsa_key):
    auth = redirecting(bundle, autoredirectpath="/oauth/v2/token")
    headers = {"Host": "registry.example", "X-Forwarded-Proto": "http"}
    assert challenge_realm(auth, headers) == "http://registry.example/oauth/v2/token"
    # Refused tokens are challenged with the same realm.
    for token, error in (("not.a.jwt", "invalid_token"),
                         (issue(rsa_key, access=[]), "insufficient_scope")):
        with pytest.raises(AuthError) as info:
            auth.authenticate({**headers, **bearer(token)}, SCOPE)
        assert info.value.challenge.startswith(
            'Bearer realm="http://registry.example/oauth/v2/token",')
        assert info.value.challenge.endswith(f'error="{error}"')
    # The path is escaped as Go's net/url escapes it.
    odd = redirecting(bundle, autoredirectpath="/a b/t?k=v")
    assert challenge_realm(odd, {"Host": "h"}) == "https://h/a%20b/t%3Fk=v"


def test_without_autoredirect_the_configured_realm_is_sent(auth, bundle):
    headers = {"Host": "registry.example", "X-Forwarded-Proto": "http"}
    assert challenge_realm(auth, headers) == REALM
    off = build_authenticator(parse_config(token_config(
        bundle, autoredirect=False, autoredirectpath="/auth/token")))
    assert isinstance(off, TokenAuthenticator)
    assert challenge_realm(off, headers) == REALM


def test_autoredirect_through_the_app(bundle):
    """The HTTP layer hands the request's Host and X-Forwarded-Proto to the authenticator."""
    app = create_app(parse_config(token_config(bundle, autoredirect=True)),
                     sink=RecordingSink())
    client = testing.TestClient(app)
    r = client.simulate_get("/v2/", headers={"Host": "registry.example:8080",
                                             "X-Forwarded-Proto": "http"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == \
        f'Bearer realm="http://registry.example:8080/auth/token",service="{SERVICE}"'
    r = client.simulate_get("/v2/demo/app/tags/list", headers={"Host": "registry.example"})
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="https://registry.example/auth/token",service="{SERVICE}",'
        'scope="repository:demo/app:pull"')


def test_a_forged_jwk_is_a_401_through_the_app(bundle, ec_key):
    """The whole request: 401 UNAUTHORIZED with the challenge, never a 500."""
    client = testing.TestClient(create_app(parse_config(token_config(bundle)),
                                           sink=RecordingSink()))
    oct_key = _forged({"alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0LXNlY3JldA"}})
    private = issue(ec_key, "ES256",
                    headers={"jwk": jwt.algorithms.ECAlgorithm.to_jwk(ec_key, as_dict=True)})
    for token in (oct_key, private):
        r = client.simulate_get("/v2/library/app/tags/list", headers=bearer(token))
        assert r.status_code == 401, r.text
        assert r.json["errors"][0]["code"] == "UNAUTHORIZED"
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
