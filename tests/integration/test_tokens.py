"""SEC-2: bearer tokens with real signatures, real key files and a JWKS served over real HTTP.

Every refusal answers with its stable code (docs/authentication.md): tampering, wrong
audience, expiry, `nbf` in the future, `alg: none`, an HMAC made with the public key (key
confusion), an unknown `kid`, an unknown issuer, an algorithm outside the allow-list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from opendmp.adapters.demo_tokens import DemoIssuer, DemoKeyError, demo_claims, dev_token_claims
from opendmp.adapters.tokens import (
    TokenError,
    TokenFailure,
    TokenVerifier,
    TrustedIssuer,
    parse_trusted_issuers,
)
from opendmp.domain.actors import AccessMode, ActorKind, AuthMode, Card
from opendmp.domain.errors import ErrorKind, InvalidRequest
from opendmp.fhir.claims import actor_from_claims

ISSUER = "https://demo.opendmp.test"
AUDIENCE = "https://dmp.example/fhir"
IDNPS = "810000000001"
INS = "295109912611193"


@dataclass
class Clock:
    moment: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer(tmp_path: Path, clock: Clock) -> DemoIssuer:
    return DemoIssuer(tmp_path / "keys" / "demo-issuer.json", ISSUER, AUDIENCE, clock=clock)


@pytest.fixture
def verifier(issuer: DemoIssuer, clock: Clock) -> TokenVerifier:
    return TokenVerifier([issuer.trusted()], clock=clock)


def physician_claims() -> dict[str, Any]:
    return demo_claims(practitioner=IDNPS, profession="10", name="Dr Test")


def refused(verifier: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    assert caught.value.kind is ErrorKind.UNAUTHENTICATED and caught.value.rule == "SEC-2"
    assert not token or token not in caught.value.message
    return caught.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


def valid_payload(clock: Clock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": IDNPS, "iat": now, "exp": now + 600} | changes


def private_key(path: Path) -> ECKey:
    return ECKey.import_key(json.loads(path.read_text()))


# Accepted tokens ------------------------------------------------------------------------------


def test_sec2_demo_token_verifies_and_maps_to_the_actor(
    issuer: DemoIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.issue(physician_claims())
    claims = verifier.verify(token)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["jti"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    actor = actor_from_claims(claims, client="test")
    assert (actor.kind, actor.id, actor.profession, actor.name) == (
        ActorKind.PROFESSIONAL,
        IDNPS,
        "10",
        "Dr Test",
    )


@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
def test_sec2_rsa_demo_issuer(tmp_path: Path, clock: Clock, algorithm: str) -> None:
    rsa = DemoIssuer(tmp_path / "rsa.json", ISSUER, AUDIENCE, algorithm=algorithm, clock=clock)
    verifier = TokenVerifier([rsa.trusted()], clock=clock)
    assert verifier.verify(rsa.issue(physician_claims()))["sub"] == IDNPS


def test_sec2_expiry_within_the_leeway_is_accepted(
    issuer: DemoIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    token = issuer.issue(physician_claims(), ttl=60)
    clock.advance(60 + 29)
    assert verifier.verify(token)["sub"] == IDNPS


def test_sec2_a_single_key_serves_a_token_without_kid(
    tmp_path: Path, issuer: DemoIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    token = jwt.encode({"alg": "ES256"}, valid_payload(clock), key, algorithms=["ES256"])
    assert verifier.verify(token)["sub"] == IDNPS


# Refused tokens -------------------------------------------------------------------------------


def test_sec2_tampered_payload_is_a_bad_signature(
    issuer: DemoIssuer, verifier: TokenVerifier
) -> None:
    header, payload, signature = issuer.issue(physician_claims()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["purpose_of_use"] = "bris_de_glace"
    tampered = f"{header}.{segment(claims)}.{signature}"
    assert refused(verifier, tampered).code == TokenFailure.BAD_SIGNATURE


def test_sec2_signature_of_another_token_is_a_bad_signature(
    issuer: DemoIssuer, verifier: TokenVerifier
) -> None:
    first = issuer.issue(physician_claims()).split(".")
    second = issuer.issue(demo_claims(patient=INS)).split(".")
    assert refused(verifier, ".".join([*second[:2], first[2]])).code == TokenFailure.BAD_SIGNATURE


def test_sec2_wrong_audience(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    other = DemoIssuer(tmp_path / "keys" / "demo-issuer.json", ISSUER, "https://x", clock=clock)
    assert refused(verifier, other.issue(physician_claims())).code == TokenFailure.WRONG_AUDIENCE


def test_sec2_missing_audience(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    payload = valid_payload(clock)
    del payload["aud"]
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key, algorithms=["ES256"])
    assert refused(verifier, token).code == TokenFailure.WRONG_AUDIENCE


def test_sec2_audience_list_containing_ours_is_accepted(
    tmp_path: Path, verifier: TokenVerifier, clock: Clock
) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    payload = valid_payload(clock, aud=["https://other", AUDIENCE])
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key, algorithms=["ES256"])
    assert verifier.verify(token)["aud"] == ["https://other", AUDIENCE]


def test_sec2_expired(issuer: DemoIssuer, verifier: TokenVerifier, clock: Clock) -> None:
    token = issuer.issue(physician_claims(), ttl=60)
    clock.advance(60 + 31)
    assert refused(verifier, token).code == TokenFailure.EXPIRED


def test_sec2_not_before_in_the_future(tmp_path: Path, verifier: TokenVerifier) -> None:
    ahead = Clock()
    ahead.advance(600)
    early = DemoIssuer(tmp_path / "keys" / "demo-issuer.json", ISSUER, AUDIENCE, clock=ahead)
    assert refused(verifier, early.issue(physician_claims())).code == TokenFailure.NOT_YET_VALID


def test_sec2_missing_exp(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    payload = valid_payload(clock)
    del payload["exp"]
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key, algorithms=["ES256"])
    error = refused(verifier, token)
    assert error.code == TokenFailure.BAD_CLAIM and "exp" in error.message


def test_sec2_exp_not_a_number(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    payload = valid_payload(clock, exp="tomorrow")
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key, algorithms=["ES256"])
    assert refused(verifier, token).code == TokenFailure.BAD_CLAIM


def test_sec2_missing_iss(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    key = private_key(tmp_path / "keys" / "demo-issuer.json")
    payload = valid_payload(clock)
    del payload["iss"]
    token = jwt.encode({"alg": "ES256", "kid": key.kid}, payload, key, algorithms=["ES256"])
    assert refused(verifier, token).code == TokenFailure.BAD_CLAIM


def test_sec2_alg_none_is_always_refused(
    issuer: DemoIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    for alg in ("none", "None", "NONE"):
        header = segment({"alg": alg, "typ": "JWT", "kid": issuer.kid})
        token = f"{header}.{segment(valid_payload(clock))}."
        assert refused(verifier, token).code == TokenFailure.ALGORITHM_REFUSED


def test_sec2_hmac_with_the_public_key_is_refused(
    issuer: DemoIssuer, verifier: TokenVerifier, clock: Clock
) -> None:
    """Key confusion: an HS256 MAC keyed with the issuer's public key (PEM and JWK bytes)."""
    public = ECKey.import_key(issuer.jwks()["keys"][0])
    for secret in (public.as_pem(private=False), json.dumps(issuer.jwks()["keys"][0]).encode()):
        signing_input = f"{segment({'alg': 'HS256', 'kid': issuer.kid})}."
        signing_input += segment(valid_payload(clock))
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64(mac)}"
        assert refused(verifier, token).code == TokenFailure.ALGORITHM_REFUSED


def test_sec2_unknown_kid(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    stranger = DemoIssuer(tmp_path / "stranger.json", ISSUER, AUDIENCE, clock=clock)
    assert refused(verifier, stranger.issue(physician_claims())).code == TokenFailure.UNKNOWN_KEY


def test_sec2_unknown_issuer(tmp_path: Path, verifier: TokenVerifier, clock: Clock) -> None:
    evil = DemoIssuer(tmp_path / "keys" / "demo-issuer.json", "https://evil", AUDIENCE, clock=clock)
    assert refused(verifier, evil.issue(physician_claims())).code == TokenFailure.UNKNOWN_ISSUER


def test_sec2_algorithm_outside_the_issuers_allow_list(tmp_path: Path, clock: Clock) -> None:
    rsa = DemoIssuer(tmp_path / "rsa.json", ISSUER, AUDIENCE, algorithm="RS256", clock=clock)
    only_es256 = TrustedIssuer(ISSUER, AUDIENCE, jwks=rsa.jwks(), algorithms=("ES256",))
    verifier = TokenVerifier([only_es256], clock=clock)
    assert refused(verifier, rsa.issue(physician_claims())).code == TokenFailure.ALGORITHM_REFUSED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d.e",  # a JWE: encrypted tokens are not accepted
        "!!!.e30.sig",
        f"{segment({'typ': 'JWT'})}.e30.c2ln",  # no alg
        f"{b64(b'[1]')}.e30.c2ln",  # header not an object
        f"{segment({'alg': 'ES256', 'crit': ['exp']})}.e30.c2ln",
        f"{segment({'alg': 'ES256', 'b64': False, 'crit': ['b64']})}.e30.c2ln",
        f"{segment({'alg': 'ES256'})}.{b64(b'not json')}.c2ln",
        "x" * 20_000,
    ],
)
def test_sec2_malformed_tokens(verifier: TokenVerifier, token: str) -> None:
    assert refused(verifier, token).code == TokenFailure.MALFORMED


# Trusted issuers configuration ----------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ("ES256", "HS512"), ()])
def test_sec2_a_trusted_issuer_never_allows_mac_or_none(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="algorithms"):
        TrustedIssuer(ISSUER, AUDIENCE, jwks={"keys": []}, algorithms=algorithms)


def test_sec2_trusted_issuer_needs_one_key_source_and_https() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TrustedIssuer(ISSUER, AUDIENCE)
    with pytest.raises(ValueError, match="https"):
        TrustedIssuer(ISSUER, AUDIENCE, jwks_url="http://idp.example/jwks")
    assert TrustedIssuer(ISSUER, AUDIENCE, jwks_url="http://127.0.0.1:8080/jwks").jwks_url


def test_sec2_trusted_issuers_from_the_environment_format() -> None:
    text = json.dumps(
        [
            {
                "issuer": "https://auth.esante.gouv.fr/auth/realms/esante-wallet",
                "audience": "opendmp",
                "jwks_url": "https://auth.esante.gouv.fr/auth/realms/esante-wallet/protocol/openid-connect/certs",
                "algorithms": ["RS256"],
            },
            {
                "issuer": "https://patients.example",
                "audience": "opendmp",
                "jwks_url": "https://patients.example/jwks",
            },
        ]
    )
    first, second = parse_trusted_issuers(text)
    assert first.algorithms == ("RS256",) and second.algorithms == ("RS256", "ES256", "PS256")
    for bad in (
        "{",
        "{}",
        '[{"issuer": "x", "audience": "y", "jwks_url": "https://z", "extra": 1}]',
    ):
        with pytest.raises(ValueError, match="OPENDMP_TRUSTED_ISSUERS"):
            parse_trusted_issuers(bad)


# JWKS over HTTP -------------------------------------------------------------------------------


@dataclass
class JwksServer:
    url: str
    jwks: dict[str, Any]
    status: int = 200
    requests: int = 0


@pytest.fixture
def jwks_server(issuer: DemoIssuer) -> Iterator[JwksServer]:
    state = JwksServer(url="", jwks=issuer.jwks())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.jwks).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def remote_verifier(jwks_server: JwksServer, clock: Clock) -> Iterator[TokenVerifier]:
    trusted = TrustedIssuer(ISSUER, AUDIENCE, jwks_url=jwks_server.url, algorithms=("ES256",))
    with TokenVerifier(
        [trusted], clock=clock, jwks_ttl_seconds=300, jwks_refetch_pause_seconds=30
    ) as verifier:
        yield verifier


def test_sec2_jwks_is_fetched_over_http_and_cached(
    issuer: DemoIssuer, remote_verifier: TokenVerifier, jwks_server: JwksServer, clock: Clock
) -> None:
    token = issuer.issue(physician_claims())
    assert remote_verifier.verify(token)["sub"] == IDNPS
    assert remote_verifier.verify(token)["sub"] == IDNPS
    assert jwks_server.requests == 1
    clock.advance(301)  # the TTL lapsed: fetched again
    assert remote_verifier.verify(issuer.issue(physician_claims()))["sub"] == IDNPS
    assert jwks_server.requests == 2 and remote_verifier.jwks_fetches(ISSUER) == 2


def test_sec2_key_rotation_refetches_once_on_unknown_kid(
    tmp_path: Path,
    issuer: DemoIssuer,
    remote_verifier: TokenVerifier,
    jwks_server: JwksServer,
    clock: Clock,
) -> None:
    remote_verifier.verify(issuer.issue(physician_claims()))
    rotated = DemoIssuer(tmp_path / "rotated.json", ISSUER, AUDIENCE, clock=clock)
    jwks_server.jwks = {"keys": issuer.jwks()["keys"] + rotated.jwks()["keys"]}
    clock.advance(31)
    assert remote_verifier.verify(rotated.issue(physician_claims()))["sub"] == IDNPS
    assert jwks_server.requests == 2
    stranger = DemoIssuer(tmp_path / "stranger.json", ISSUER, AUDIENCE, clock=clock)
    for _ in range(5):  # random kids cannot make us hammer the issuer
        error = refused(remote_verifier, stranger.issue(physician_claims()))
        assert error.code == TokenFailure.UNKNOWN_KEY
    assert jwks_server.requests == 2
    clock.advance(31)
    refused(remote_verifier, stranger.issue(physician_claims()))
    assert jwks_server.requests == 3


def test_sec2_issuer_outage_keeps_the_cached_keys(
    issuer: DemoIssuer, remote_verifier: TokenVerifier, jwks_server: JwksServer, clock: Clock
) -> None:
    remote_verifier.verify(issuer.issue(physician_claims()))
    jwks_server.status = 500
    clock.advance(301)
    assert remote_verifier.verify(issuer.issue(physician_claims()))["sub"] == IDNPS
    assert jwks_server.requests == 2
    assert remote_verifier.verify(issuer.issue(physician_claims()))["sub"] == IDNPS
    assert jwks_server.requests == 2  # failures are not retried before the pause


def test_sec2_no_keys_ever_fetched_is_keys_unavailable(
    issuer: DemoIssuer,
    remote_verifier: TokenVerifier,
    jwks_server: JwksServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    jwks_server.status = 503
    token = issuer.issue(physician_claims())
    with caplog.at_level(logging.DEBUG):
        assert refused(remote_verifier, token).code == TokenFailure.KEYS_UNAVAILABLE
    assert "JWKS fetch failed" in caplog.text
    assert token not in caplog.text and token.split(".")[1] not in caplog.text


def test_sec2_a_given_http_client_is_used_and_left_open(
    issuer: DemoIssuer, jwks_server: JwksServer, clock: Clock
) -> None:
    trusted = TrustedIssuer(ISSUER, AUDIENCE, jwks_url=jwks_server.url)
    with httpx.Client(timeout=2.0) as http:
        with TokenVerifier([trusted], clock=clock, http=http) as verifier:
            assert verifier.verify(issuer.issue(physician_claims()))["sub"] == IDNPS
        assert not http.is_closed


# The demo issuer's key file -------------------------------------------------------------------


def test_sec2_demo_key_file_is_private_and_reused(tmp_path: Path, issuer: DemoIssuer) -> None:
    path = tmp_path / "keys" / "demo-issuer.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert DemoIssuer(path, ISSUER, AUDIENCE).kid == issuer.kid
    assert [name for name in os.listdir(path.parent)] == ["demo-issuer.json"]
    (public,) = issuer.jwks()["keys"]
    assert "d" not in public and public["kid"] == issuer.kid and public["alg"] == "ES256"


def test_sec2_demo_key_file_readable_by_others_is_refused(
    tmp_path: Path, issuer: DemoIssuer
) -> None:
    path = tmp_path / "keys" / "demo-issuer.json"
    path.chmod(0o644)
    with pytest.raises(DemoKeyError, match="chmod 600"):
        DemoIssuer(path, ISSUER, AUDIENCE)


def test_sec2_demo_key_file_must_hold_a_private_key(tmp_path: Path, issuer: DemoIssuer) -> None:
    path = tmp_path / "public.json"
    path.write_text(json.dumps(issuer.jwks()["keys"][0]))
    path.chmod(0o600)
    with pytest.raises(DemoKeyError, match="private"):
        DemoIssuer(path, ISSUER, AUDIENCE)


def test_sec2_demo_issuer_sets_registered_claims_itself(issuer: DemoIssuer) -> None:
    with pytest.raises(ValueError, match="exp"):
        issuer.issue({"sub": IDNPS, "exp": 1})
    with pytest.raises(ValueError, match="ttl"):
        issuer.issue({"sub": IDNPS}, ttl=0)


# Demo claims: `opendmp token` flags and `POST /auth/dev/token` bodies (API.md Details §1, §22) --


def test_api1_practitioner_flags() -> None:
    claims = demo_claims(
        practitioner=IDNPS,
        profession="10",
        specialty="SM26",
        structure="1750000018",
        auth_mode="INDIRECTE_RENFORCEE",
        card="CPF",
        occupational_physician=True,
        secret_connection=True,
        purpose="BTG",
        purpose_reason="inconscient",
        name="Dr Test",
    )
    assert claims == {
        "sub": IDNPS,
        "actor": "professional",
        "profession": "10",
        "specialty": "SM26",
        "structure": "1750000018",
        "auth_mode": "INDIRECTE_RENFORCEE",
        "card": "CPF",
        "occupational_physician": True,
        "secret_connection": True,
        "fhirUser": f"Practitioner/{IDNPS}",
        "purpose_of_use": "bris_de_glace",
        "purpose_reason": "inconscient",
        "name": "Dr Test",
        "scope": "openid fhirUser user/*.cruds",
    }
    actor = actor_from_claims(claims)
    assert actor.card is Card.CPF and actor.access_mode is AccessMode.BREAK_THE_GLASS


def test_api1_organization_is_indirect_unless_told() -> None:
    claims = demo_claims(organization="1750000018", name="Hôpital")
    assert claims["auth_mode"] == "INDIRECTE" and claims["fhirUser"] == "Organization/1750000018"
    assert claims["scope"] == "system/*.cruds"
    air = demo_claims(organization="1750000018", auth_mode="INDIRECTE_RENFORCEE")
    assert actor_from_claims(air).auth_mode is AuthMode.INDIRECT_REINFORCED


def test_api22_patient_with_ins_system() -> None:
    assert demo_claims(patient=INS) == {
        "sub": INS,
        "actor": "person",
        "ins_system": "1.2.250.1.213.1.4.8",
        "fhirUser": f"Patient/{INS}",
        "scope": "openid fhirUser patient/*.cruds",
    }
    test_ins = demo_claims(patient=INS, ins_system="urn:oid:1.2.250.1.213.1.4.10")
    assert test_ins["ins_system"] == "1.2.250.1.213.1.4.10"
    actor = actor_from_claims(test_ins)
    assert (actor.kind, actor.id, actor.ins_system) == (
        ActorKind.PERSON,
        INS,
        "1.2.250.1.213.1.4.10",
    )


def test_api28_operator() -> None:
    claims = demo_claims(operator="ops")
    assert claims["actor"] == "operator" and "fhirUser" not in claims
    assert actor_from_claims(claims).kind is ActorKind.OPERATOR


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        ({}, "--practitioner"),
        ({"practitioner": IDNPS, "patient": INS}, "--practitioner"),
        ({"practitioner": IDNPS}, "--profession"),
        ({"practitioner": "12", "profession": "10"}, "--practitioner"),
        ({"practitioner": IDNPS, "profession": "10", "purpose": "urgence"}, "--purpose"),
        ({"practitioner": IDNPS, "profession": "10", "card": "XYZ"}, "--card"),
        ({"practitioner": IDNPS, "profession": "10", "structure": "?"}, "--structure"),
        ({"organization": "1750000018", "auth_mode": "DIRECTE"}, "--auth-mode"),
        (
            {"organization": "1750000018", "occupational_physician": True},
            "--occupational-physician",
        ),
        ({"patient": "295109912611199"}, "--patient"),
        ({"patient": INS, "ins_system": "1.2.3"}, "--ins-system"),
        ({"patient": INS, "purpose": "bris_de_glace"}, "--purpose"),
        ({"operator": "a b"}, "--operator"),
    ],
)
def test_api1_flag_errors_name_the_flag(flags: dict[str, Any], flag: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        demo_claims(**flags)
    assert caught.value.path == flag and caught.value.message.startswith(flag)
    assert caught.value.kind is ErrorKind.INVALID


def test_api1_dev_token_body_gives_the_same_claims() -> None:
    body = {
        "sub": IDNPS,
        "actor": "professional",
        "profession": "10",
        "purpose_of_use": "bris_de_glace",
        "purpose_reason": "inconscient",
        "name": "Dr Test",
    }
    assert dev_token_claims(body) == demo_claims(
        practitioner=IDNPS,
        profession="10",
        purpose="bris_de_glace",
        purpose_reason="inconscient",
        name="Dr Test",
    )
    representative = dev_token_claims(
        {"sub": INS, "fhirUser": f"RelatedPerson/{INS}", "ins_system": "1.2.250.1.213.1.4.11"}
    )
    assert representative["actor"] == "person"
    assert representative["fhirUser"] == f"RelatedPerson/{INS}"


@pytest.mark.parametrize(
    ("body", "code", "key"),
    [
        ([], "DMP-0722", "$"),
        ({"sub": IDNPS, "actor": "professional", "role": "x"}, "DMP-0721", "role"),
        ({"sub": IDNPS, "actor": "professional", "profession": 10}, "DMP-0722", "profession"),
        (
            {"sub": IDNPS, "actor": "professional", "profession": "10", "secret_connection": "yes"},
            "DMP-0722",
            "secret_connection",
        ),
        ({"sub": IDNPS, "actor": "system"}, "DMP-0722", "actor"),
        ({"sub": IDNPS}, "DMP-0722", "actor"),
        ({"actor": "professional", "profession": "10"}, "DMP-0722", "sub"),
        ({"sub": IDNPS, "actor": "professional", "profession": "99"}, "DMP-0722", "profession"),
        (
            {
                "sub": IDNPS,
                "actor": "professional",
                "profession": "10",
                "fhirUser": "Practitioner/810000000002",
            },
            "DMP-0722",
            "fhirUser",
        ),
        (
            {"sub": INS, "actor": "person", "fhirUser": f"Practitioner/{INS}"},
            "DMP-0722",
            "fhirUser",
        ),
        (
            {"sub": "ops", "actor": "operator", "ins_system": "1.2.250.1.213.1.4.8"},
            "DMP-0722",
            "ins_system",
        ),
    ],
)
def test_api1_dev_token_body_errors_name_the_key(body: object, code: str, key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        dev_token_claims(body)
    assert (caught.value.code, caught.value.path) == (code, key)
