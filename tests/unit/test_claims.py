"""SEC-2 / SPEC.md §1: verified token claims become the domain `Actor` (API.md Details §1).

Every claim the server uses is mapped here, with its synonyms (HL7 purpose-of-use codes, an
absolute `fhirUser`, OIDC name claims), and every unusable claim is a 401 with a stable code
naming the claim. The break-the-glass reason (API.md §12) is the policy's check, not this one.
"""

from __future__ import annotations

from typing import Any

import pytest

from opendmp.domain.actors import AccessMode, Actor, ActorKind, AuthMode, Card
from opendmp.domain.errors import ErrorKind
from opendmp.domain.identifiers import OID_INS_NIA, OID_INS_NIR, OID_INS_TEST
from opendmp.fhir.claims import ClaimFailure, InvalidClaims, actor_from_claims

IDNPS = "810000000001"
IDNST = "1750000018"
INS = "295109912611193"
BAD_KEY_INS = "295109912611199"


def ps(**claims: Any) -> dict[str, Any]:
    return {"actor": "professional", "sub": IDNPS, "profession": "10"} | claims


def test_sec2_professional_every_claim_is_mapped() -> None:
    claims = ps(
        fhirUser=f"Practitioner/{IDNPS}",
        specialty="SM26",
        structure=IDNST,
        auth_mode="INDIRECTE_RENFORCEE",
        card="CPF",
        occupational_physician=True,
        secret_connection=True,
        purpose_of_use="bris_de_glace",
        purpose_reason="patient inconscient",
        name="Dr Jeanne Martin",
    )
    assert actor_from_claims(claims, client="LGC 1.0") == Actor(
        kind=ActorKind.PROFESSIONAL,
        id=IDNPS,
        name="Dr Jeanne Martin",
        profession="10",
        specialty="SM26",
        structure=IDNST,
        auth_mode=AuthMode.INDIRECT_REINFORCED,
        card=Card.CPF,
        is_occupational_physician=True,
        is_secret_connection=True,
        access_mode=AccessMode.BREAK_THE_GLASS,
        purpose_reason="patient inconscient",
        client="LGC 1.0",
    )


def test_sec2_professional_defaults_direct_cps_normal() -> None:
    actor = actor_from_claims(ps())
    assert (actor.auth_mode, actor.card, actor.access_mode) == (
        AuthMode.DIRECT,
        Card.CPS,
        AccessMode.NORMAL,
    )
    assert not actor.is_occupational_physician and not actor.is_secret_connection
    assert actor.specialty is None and actor.structure is None and actor.purpose_reason == ""


@pytest.mark.parametrize(
    ("purpose", "mode"),
    [
        (None, AccessMode.NORMAL),
        ("", AccessMode.NORMAL),
        ("normal", AccessMode.NORMAL),
        ("TREAT", AccessMode.NORMAL),
        ("bris_de_glace", AccessMode.BREAK_THE_GLASS),
        ("BTG", AccessMode.BREAK_THE_GLASS),
        ("centre_15", AccessMode.CENTRE_15),
        ("ETREAT", AccessMode.CENTRE_15),
        (
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"},
            AccessMode.BREAK_THE_GLASS,
        ),
        (["ETREAT"], AccessMode.CENTRE_15),
    ],
)
def test_sec2_purpose_of_use_and_its_hl7_synonyms(purpose: object, mode: AccessMode) -> None:
    assert actor_from_claims(ps(purpose_of_use=purpose)).access_mode is mode


def test_api12_break_the_glass_without_reason_is_left_to_the_policy() -> None:
    actor = actor_from_claims(ps(purpose_of_use="BTG"))
    assert actor.access_mode is AccessMode.BREAK_THE_GLASS and actor.purpose_reason == ""


def test_sec2_kind_from_fhir_user_alone() -> None:
    claims = {"sub": IDNPS, "fhirUser": f"Practitioner/{IDNPS}", "profession": "60"}
    actor = actor_from_claims(claims)
    assert (actor.kind, actor.id, actor.profession) == (ActorKind.PROFESSIONAL, IDNPS, "60")


def test_sec2_absolute_fhir_user_names_the_professional_over_an_opaque_sub() -> None:
    claims = ps(
        sub="f:550dc1c8:opaque",
        fhirUser=f"https://dmp.example/fhir/Practitioner/{IDNPS}/_history/2",
    )
    assert actor_from_claims(claims).id == IDNPS


def test_r_ps_6_cpe_card_needs_no_profession() -> None:
    claims = {"actor": "professional", "sub": "30B0037750/CPET0001", "card": "CPE"}
    actor = actor_from_claims(claims)
    assert actor.card is Card.CPE and actor.profession is None


def test_sec2_oidc_name_and_client_claims() -> None:
    claims = ps(given_name="Jeanne", family_name="Martin", client_id="lgc-42")
    actor = actor_from_claims(claims)
    assert (actor.name, actor.client) == ("Jeanne Martin", "lgc-42")
    assert actor_from_claims(ps(azp="portal")).client == "portal"
    assert actor_from_claims(ps(azp="portal"), client="explicit").client == "explicit"


def test_sec2_organization_defaults_to_indirect() -> None:
    claims = {"actor": "organization", "sub": IDNST, "name": "Hôpital"}
    assert actor_from_claims(claims) == Actor(
        ActorKind.ORGANIZATION, IDNST, "Hôpital", auth_mode=AuthMode.INDIRECT
    )


def test_r_em_2_organization_air_in_regulation_mode() -> None:
    claims = {
        "fhirUser": f"Organization/{IDNST}",
        "auth_mode": "INDIRECTE_RENFORCEE",
        "purpose_of_use": "ETREAT",
    }
    actor = actor_from_claims(claims)
    assert actor.kind is ActorKind.ORGANIZATION and actor.id == IDNST
    assert actor.auth_mode is AuthMode.INDIRECT_REINFORCED
    assert actor.access_mode is AccessMode.CENTRE_15


def test_sec2_person_sub_is_the_ins_and_system_defaults_to_nir() -> None:
    actor = actor_from_claims({"actor": "person", "sub": INS, "name": "Marie"})
    assert actor == Actor(ActorKind.PERSON, INS, "Marie", ins_system=OID_INS_NIR)


@pytest.mark.parametrize(
    ("system", "expected"),
    [(OID_INS_NIA, OID_INS_NIA), (f"urn:oid:{OID_INS_TEST}", OID_INS_TEST)],
)
def test_id2_person_ins_system_bare_or_urn(system: str, expected: str) -> None:
    actor = actor_from_claims({"actor": "person", "sub": INS, "ins_system": system})
    assert actor.ins_system == expected


@pytest.mark.parametrize("fhir_user", [f"Patient/{INS}", "RelatedPerson/rp-1", "Patient/pat-7"])
def test_r_pat_3_patient_or_representative_is_a_person_named_by_sub(fhir_user: str) -> None:
    actor = actor_from_claims({"sub": INS, "ins_system": OID_INS_NIR, "fhirUser": fhir_user})
    assert (actor.kind, actor.id) == (ActorKind.PERSON, INS)


def test_sec2_operator() -> None:
    actor = actor_from_claims({"actor": "operator", "sub": "ops", "name": "Ops"})
    assert actor == Actor(ActorKind.OPERATOR, "ops", "Ops")


@pytest.mark.parametrize(
    ("claims", "code", "claim"),
    [
        ({"actor": "admin", "sub": IDNPS}, ClaimFailure.UNKNOWN_ACTOR, "actor"),
        ({"actor": "system", "sub": "opendmp"}, ClaimFailure.UNKNOWN_ACTOR, "actor"),
        ({"sub": IDNPS}, ClaimFailure.UNKNOWN_ACTOR, "actor"),
        ({"sub": "x", "fhirUser": "Device/x"}, ClaimFailure.UNKNOWN_ACTOR, "fhirUser"),
        ({"sub": IDNPS, "fhirUser": "Practitioner"}, ClaimFailure.UNKNOWN_ACTOR, "fhirUser"),
        (ps(fhirUser=f"Patient/{INS}"), ClaimFailure.UNKNOWN_ACTOR, "fhirUser"),
        ({"actor": "professional", "profession": "10"}, ClaimFailure.NO_IDENTIFIER, "sub"),
        ({"actor": "person"}, ClaimFailure.NO_IDENTIFIER, "sub"),
        ({"actor": "operator", "sub": " "}, ClaimFailure.NO_IDENTIFIER, "sub"),
        (ps(sub="12345"), ClaimFailure.BAD_IDENTIFIER, "sub"),
        ({"actor": "organization", "sub": "1-bad"}, ClaimFailure.BAD_IDENTIFIER, "sub"),
        (ps(structure="1BAD"), ClaimFailure.BAD_IDENTIFIER, "structure"),
        ({"actor": "person", "sub": BAD_KEY_INS}, ClaimFailure.BAD_IDENTIFIER, "sub"),
        (
            {"actor": "person", "sub": INS, "ins_system": "1.2.3"},
            ClaimFailure.BAD_IDENTIFIER,
            "ins_system",
        ),
        (ps(profession=None), ClaimFailure.BAD_PROFESSION, "profession"),
        (ps(profession="99"), ClaimFailure.BAD_PROFESSION, "profession"),
        (ps(auth_mode="CARTE"), ClaimFailure.BAD_VALUE, "auth_mode"),
        (ps(card="CPX"), ClaimFailure.BAD_VALUE, "card"),
        (
            {"actor": "organization", "sub": IDNST, "auth_mode": "DIRECTE"},
            ClaimFailure.BAD_VALUE,
            "auth_mode",
        ),
        (ps(occupational_physician="yes"), ClaimFailure.BAD_VALUE, "occupational_physician"),
        (ps(secret_connection=1), ClaimFailure.BAD_VALUE, "secret_connection"),
        (ps(purpose_of_use="urgence"), ClaimFailure.BAD_VALUE, "purpose_of_use"),
        (ps(purpose_of_use=3), ClaimFailure.BAD_VALUE, "purpose_of_use"),
        (
            {"actor": "person", "sub": INS, "purpose_of_use": "BTG"},
            ClaimFailure.BAD_VALUE,
            "purpose_of_use",
        ),
        (
            {"actor": "operator", "sub": "ops", "purpose_of_use": "centre_15"},
            ClaimFailure.BAD_VALUE,
            "purpose_of_use",
        ),
        (ps(name=42), ClaimFailure.BAD_VALUE, "name"),
        (ps(sub=810000000001), ClaimFailure.BAD_VALUE, "sub"),
    ],
)
def test_sec2_unusable_claims_are_refused_with_a_stable_code(
    claims: dict[str, Any], code: ClaimFailure, claim: str
) -> None:
    with pytest.raises(InvalidClaims) as caught:
        actor_from_claims(claims)
    error = caught.value
    assert (error.code, error.path, error.rule) == (code, claim, "SEC-2")
    assert error.kind is ErrorKind.UNAUTHENTICATED


@pytest.mark.parametrize(
    "claims",
    [ps(sub="12345"), {"actor": "person", "sub": BAD_KEY_INS}, ps(structure="1BAD")],
)
def test_sec4_refusals_do_not_echo_identifiers(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidClaims) as caught:
        actor_from_claims(claims)
    for value in ("12345", BAD_KEY_INS, "1BAD"):
        assert value not in caught.value.message
