"""Domain objects rendered as FHIR R4 that `fhir.resources.R4B` parses back (API.md §4, §8,
§18, §24, §27; IHE MHD 4.2, IHE BALP)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from opendmp.domain.audit import AuditEntry, Outcome
from opendmp.domain.consents import Consent, ConsentRole, Provision
from opendmp.domain.documents import (
    CONFIDENTIALITY_SYSTEM,
    Author,
    AuthorKind,
    Coding,
    DocumentEntry,
    DocumentStatus,
    Label,
    SubmissionSet,
    Submitter,
)
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.domain.record import (
    ClosureReason,
    Demographics,
    OpeningChannel,
    Record,
    RecordState,
    Representative,
)
from opendmp.fhir import render
from opendmp.fhir.iti65 import parse_provide_bundle
from opendmp.services.submit_documents import NOT_GIVEN

BASE = "https://dmp.example/fhir"
INS = Ins("1.2.250.1.213.1.4.10", "207058575627097")
LABELS = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
SUBMITTED = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
DATA = b"%PDF-1.4 compte rendu\n"
DOCTOR = Author(
    AuthorKind.PROFESSIONAL, "899700218896", "Dr Max LIBRE", "1750100125", Coding("urn:s", "SM26")
)


def a_record(**changes: Any) -> Record:
    values: dict[str, Any] = {
        "id": RecordId("rec-1"),
        "ins": INS,
        "demographics": Demographics("LAURENCE", "patb-quatre", date(1907, 5, 25), "female"),
        "state": RecordState.OPEN,
        "opened_at": SUBMITTED,
        "opened_by": "899700218896",
        "channel": OpeningChannel.PROFESSIONAL,
        "is_activated": True,
    }
    return Record(**(values | changes))


def a_document(**changes: Any) -> DocumentEntry:
    values: dict[str, Any] = {
        "id": DocumentId("0123456789abcdef0123456789abcdef"),
        "record_id": RecordId("rec-1"),
        "unique_id": "1.2.250.1.213.1.4.10.99999.2",
        "status": DocumentStatus.CURRENT,
        "type": Coding("http://loinc.org", "11488-4", "CR de consultation"),
        "category": Coding("urn:oid:1.2.250.1.213.1.1.4.1", "10", "Compte rendu"),
        "date": datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        "authors": (DOCTOR, Author(AuthorKind.PATIENT, INS.value, "Patient")),
        "submitter": Submitter("professional", "899700218896", "1750100125"),
        "submitted_at": SUBMITTED,
        "submission_set_id": "ss-1",
        "content_type": "application/pdf",
        "size": len(DATA),
        "sha1": hashlib.sha1(DATA, usedforsecurity=False).hexdigest(),
        "title": "CR",
        "language": "fr-FR",
        "format": Coding("urn:f", "urn:ihe:iti:xds-sd:pdf:2008"),
        "facility_type": Coding("urn:fa", "SA01"),
        "practice_setting": Coding("urn:p", "ETABLISSEMENT"),
        "period_start": datetime(2026, 1, 1, 7, 0, tzinfo=UTC),
        "period_end": datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        "events": (Coding("urn:e", "E1"),),
        "custodian": "1750100125",
        "confidentiality": (Coding(CONFIDENTIALITY_SYSTEM, "N"),),
        "labels": frozenset({Label.INVISIBLE_PATIENT, Label.MASQUE_PS}),
        "subject": INS,
        "replaces": DocumentId("old-1"),
        "is_archived": True,
        "version": 3,
    }
    return DocumentEntry(**(values | changes))


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def codes(codings: list[dict[str, Any]]) -> list[str]:
    return [c["code"] for c in codings]


def test_document_reference_mhd_comprehensive_elements() -> None:
    """MHD comprehensive + PDSm elements; ITI-68 url; hash = base64 SHA-1 (FHIR R4)."""
    resource = validated(render.document_reference(a_document(), BASE))
    assert resource["masterIdentifier"] == {
        "system": "urn:ietf:rfc:3986",
        "value": "urn:oid:1.2.250.1.213.1.4.10.99999.2",
    }
    assert resource["identifier"][0]["value"] == "urn:uuid:01234567-89ab-cdef-0123-456789abcdef"
    assert resource["meta"]["versionId"] == "3"
    assert resource["subject"] == {
        "reference": "Patient/rec-1",
        "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": INS.value},
    }
    attachment = resource["content"][0]["attachment"]
    assert attachment["url"] == f"{BASE}/Binary/0123456789abcdef0123456789abcdef"
    assert (
        base64.b64decode(attachment["hash"]) == hashlib.sha1(DATA, usedforsecurity=False).digest()
    )
    assert attachment["size"] == len(DATA) and attachment["language"] == "fr-FR"
    assert resource["custodian"]["identifier"]["value"] == "1750100125"
    assert resource["relatesTo"] == [
        {"code": "replaces", "target": {"reference": "DocumentReference/old-1"}}
    ]
    assert resource["extension"] == [
        {
            "url": "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
            "pdsm-ext-is-archived",
            "valueBoolean": True,
        }
    ]
    context = resource["context"]
    assert context["facilityType"]["coding"][0]["code"] == "SA01"
    assert context["period"]["end"] == "2026-01-01T08:00:00+00:00"


def test_api8_api24_security_label_n_first_and_mirrored_in_meta_security() -> None:
    """API.md §8, §24: N first, TRE_A07 labels after it, the same codings in meta.security."""
    resource = render.document_reference(a_document(confidentiality=()), BASE)
    labels = [c for label in resource["securityLabel"] for c in label["coding"]]
    assert codes(labels) == ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]
    assert labels[1]["system"] == LABELS
    assert resource["meta"]["security"] == labels


def test_doc7_invisible_patient_lapses_one_month_after_submission() -> None:
    """DOC-7: rendered with `now`, the labels in force; INVISIBLE_PATIENT lapsed."""
    resource = render.document_reference(a_document(), BASE, now=datetime(2026, 3, 1, tzinfo=UTC))
    assert codes(resource["meta"]["security"]) == ["N", "MASQUE_PS"]


def test_authors_are_contained_practitioner_role_and_patient() -> None:
    resource = render.document_reference(a_document(), BASE)
    contained = {c["id"]: c for c in resource["contained"]}
    assert resource["author"] == [{"reference": "#author-0-role"}, {"reference": "#author-1"}]
    role = contained["author-0-role"]
    assert role["practitioner"] == {"reference": "#author-0"}
    assert contained["author-0"]["identifier"][0]["value"] == "899700218896"
    assert contained[role["organization"]["reference"][1:]]["identifier"][0]["value"] == (
        "1750100125"
    )
    assert contained["author-1"]["identifier"] == [
        {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": INS.value}
    ]


def test_rendered_document_parses_back_into_the_same_metadata() -> None:
    """Round trip: a rendered DocumentReference, put in an ITI-65 Bundle, gives the same
    uniqueId, codes, authors and labels (docs/fhir-mapping.md is one table both ways)."""
    entry = a_document(replaces=None)
    resource = render.document_reference(entry, BASE)
    resource["content"][0]["attachment"]["url"] = "urn:uuid:binary"
    resource.pop("identifier")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:list",
                "resource": {
                    "resourceType": "List",
                    "status": "current",
                    "mode": "working",
                    "code": {"coding": [{"code": "submissionset"}]},
                    "subject": {"reference": "Patient/rec-1"},
                    "entry": [{"item": {"reference": "urn:uuid:doc"}}],
                },
                "request": {"method": "POST", "url": "List"},
            },
            {
                "fullUrl": "urn:uuid:doc",
                "resource": resource,
                "request": {"method": "POST", "url": "DocumentReference"},
            },
            {
                "fullUrl": "urn:uuid:binary",
                "resource": render.binary(entry, DATA),
                "request": {"method": "POST", "url": "Binary"},
            },
        ],
    }
    (draft,) = parse_provide_bundle(bundle, profile="dmp", base_url=BASE).documents
    assert draft.unique_id == entry.unique_id and draft.data == DATA
    assert (draft.type, draft.category, draft.format) == (entry.type, entry.category, entry.format)
    assert draft.authors == entry.authors
    assert {c.code for c in draft.confidentiality} == {"N", "MASQUE_PS", "INVISIBLE_PATIENT"}
    assert draft.events == entry.events and draft.period_end == entry.period_end
    assert (
        draft.declared_hash
        == render.document_reference(entry, BASE)["content"][0]["attachment"]["hash"]
    )


def test_submission_set_list_iti66() -> None:
    ss = SubmissionSet(
        "fedcba9876543210fedcba9876543210",
        RecordId("rec-1"),
        "1.2.250.1.999.2.1",
        "1.2.250.1.999",
        Coding("urn:ct", "04"),
        SUBMITTED,
        (DOCTOR,),
        Submitter("professional", "899700218896"),
        SUBMITTED,
        (DocumentId("d1"), DocumentId("d2")),
        title="Lot",
    )
    resource = validated(render.submission_set_list(ss, BASE))
    assert resource["code"]["coding"][0]["code"] == "submissionset"
    assert [e["item"]["reference"] for e in resource["entry"]] == [
        "DocumentReference/d1",
        "DocumentReference/d2",
    ]
    by_url = {e["url"].rsplit("/", 1)[1]: e for e in resource["extension"]}
    assert by_url["ihe-sourceId"]["valueIdentifier"]["value"] == "urn:oid:1.2.250.1.999"
    assert by_url["ihe-designationType"]["valueCodeableConcept"]["coding"][0]["code"] == "04"
    assert resource["source"] == {"reference": "#author-0-role"}


def test_api4_patient_open_record() -> None:
    """API.md §4: INS identifier, name, birth date, sex, active and record-status."""
    record = a_record(representatives=(Representative(Ins(INS.system, "1"), "MTH", "Mère"),))
    resource = validated(render.patient(record, BASE, state_only=False))
    assert resource["active"] is True
    assert resource["extension"] == [
        {"url": "https://opendmp.org/fhir/StructureDefinition/record-status", "valueCode": "open"}
    ]
    assert resource["identifier"][0]["system"] == "urn:oid:1.2.250.1.213.1.4.10"
    assert resource["identifier"][0]["type"]["coding"][0]["code"] == "INS-NIR"
    assert resource["birthDate"] == "1907-05-25" and resource["gender"] == "female"
    assert resource["contact"][0]["relationship"][0]["coding"][0]["code"] == "MTH"


def test_api5_api23_closed_record_state_only_for_a_professional() -> None:
    """API.md §5, §23: a PS gets the state only: identifier, active, state extensions."""
    record = a_record(
        state=RecordState.CLOSED,
        closed_at=datetime(2026, 2, 1, tzinfo=UTC),
        closure_reason=ClosureReason.DEATH,
    )
    resource = validated(render.patient(record, BASE, state_only=True))
    assert set(resource) == {"resourceType", "id", "meta", "extension", "identifier", "active"}
    assert resource["active"] is False
    status, closure = resource["extension"]
    assert status["valueCode"] == "closed"
    assert closure["extension"] == [
        {"url": "date", "valueDateTime": "2026-02-01T00:00:00+00:00"},
        {"url": "reason", "valueCode": "death"},
    ]


@pytest.mark.parametrize(
    ("role", "provision", "expected_role"),
    [
        pytest.param(
            ConsentRole.PARTICIPANT,
            Provision.PERMIT,
            ("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PRCP"),
            id="R-PS-2-authorized",
        ),
        pytest.param(
            ConsentRole.PARTICIPANT,
            Provision.DENY,
            ("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PRCP"),
            id="R-PS-1-blocked",
        ),
        pytest.param(
            ConsentRole.ADMINISTRATOR,
            Provision.PERMIT,
            ("https://opendmp.org/fhir/CodeSystem/record-role", "administrator"),
            id="R-PS-3-administrator",
        ),
    ],
)
def test_api7_consent(
    role: ConsentRole, provision: Provision, expected_role: tuple[str, str]
) -> None:
    """API.md §7: scope patient-privacy, LOINC 59284-0, OPTIN, actor by IDNPS identifier."""
    consent = Consent(
        "c-1",
        RecordId("rec-1"),
        "899700218896",
        provision,
        role,
        "person",
        INS.value,
        SUBMITTED,
        professional_name="Dr Max LIBRE",
    )
    resource = validated(render.consent(consent, a_record(), BASE))
    assert resource["scope"]["coding"][0]["code"] == "patient-privacy"
    assert resource["category"][0]["coding"][0]["code"] == "59284-0"
    assert resource["performer"] == [{"reference": "Patient/rec-1"}]
    actor = resource["provision"]["actor"][0]
    assert resource["provision"]["type"] == provision.value
    assert (actor["role"]["coding"][0]["system"], actor["role"]["coding"][0]["code"]) == (
        expected_role
    )
    assert actor["reference"]["identifier"] == {
        "system": "urn:oid:1.2.250.1.71.4.2.1",
        "value": "899700218896",
    }


def test_ended_consent_is_inactive_with_a_period() -> None:
    consent = Consent(
        "c-2",
        RecordId("rec-1"),
        "899700218896",
        Provision.PERMIT,
        ConsentRole.PARTICIPANT,
        "professional",
        "899700218896",
        SUBMITTED,
        is_active=False,
        ended_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    resource = validated(render.consent(consent, a_record(), BASE))
    assert resource["status"] == "inactive"
    assert resource["provision"]["period"]["end"] == "2026-02-01T00:00:00+00:00"
    assert resource["performer"] == [{"reference": "Practitioner/899700218896"}]


def an_audit_entry(**changes: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "id": "a-1",
        "record_id": "rec-1",
        "recorded_at": SUBMITTED,
        "action": "record:document:read",
        "outcome": Outcome.SUCCESS,
        "rule": "R-EM-1",
        "actor_kind": "professional",
        "actor_id": "899700218896",
        "actor_name": "Dr Max LIBRE",
        "actor_profession": "10",
        "actor_structure": "1750100125",
        "access_mode": "bris_de_glace",
        "purpose_reason": "patient inconscient",
        "resource_type": "DocumentReference",
        "resource_id": "d-1",
        "request_id": "req-123",
        "client": "LPS 2.0",
    }
    return AuditEntry(**(values | changes))


def test_api18_api27_audit_event_balp() -> None:
    """API.md §18, §27: agent.who.identifier, TRE_R248 purposeOfUse with the reason in text,
    outcome, patient entity (reference + INS), document entity, XrequestId entity."""
    event = validated(render.audit_event(an_audit_entry(), a_record(), BASE))
    user = event["agent"][0]
    assert user["requestor"] is True
    assert user["who"]["identifier"] == {
        "system": "urn:oid:1.2.250.1.71.4.2.1",
        "value": "899700218896",
    }
    purpose = user["purposeOfUse"][0]
    assert purpose["coding"][0] == {
        "system": "https://mos.esante.gouv.fr/NOS/TRE_R248-ModeAcces/FHIR/TRE-R248-ModeAcces",
        "code": "bris_de_glace",
        "display": "Accès en bris de glace",
    }
    assert purpose["text"] == "patient inconscient"
    assert event["outcome"] == "0" and event["action"] == "R"
    patient, document, request = event["entity"]
    assert patient["what"] == {
        "reference": "Patient/rec-1",
        "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": INS.value},
    }
    assert document["what"] == {"reference": "DocumentReference/d-1"}
    assert request["type"]["code"] == "XrequestId"
    assert request["what"]["identifier"]["value"] == "req-123"
    assert any(a["who"].get("identifier", {}).get("value") == "1750100125" for a in event["agent"])


@pytest.mark.parametrize(
    ("outcome", "actor_kind", "actor_id", "system"),
    [
        pytest.param(Outcome.REFUSED, "person", INS.value, "urn:oid:1.2.250.1.213.1.4.10", id="4"),
        pytest.param(
            Outcome.ERROR, "organization", "1750100125", "urn:oid:1.2.250.1.71.4.2.2", id="8"
        ),
    ],
)
def test_api18_audit_outcomes_and_agents(
    outcome: Outcome, actor_kind: str, actor_id: str, system: str
) -> None:
    entry = an_audit_entry(
        outcome=outcome,
        actor_kind=actor_kind,
        actor_id=actor_id,
        access_mode="normal",
        purpose_reason="",
        action="record:consent:block",
    )
    event = validated(render.audit_event(entry, a_record(), BASE))
    assert event["outcome"] == outcome.value
    assert event["agent"][0]["who"]["identifier"] == {"system": system, "value": actor_id}
    assert "text" not in event["agent"][0]["purposeOfUse"][0]


def test_binary_and_searchset() -> None:
    """ITI-68 as FHIR: the exact bytes (DOC-2); searchset with total and links (paging)."""
    entry = a_document()
    binary = validated(render.binary(entry, DATA))
    assert base64.b64decode(binary["data"]) == DATA
    bundle = validated(
        render.searchset(
            [render.document_reference(entry, BASE)],
            7,
            f"{BASE}/DocumentReference?patient=rec-1",
            f"{BASE}/DocumentReference?patient=rec-1&_offset=1",
            base_url=BASE,
        )
    )
    assert bundle["total"] == 7
    assert [link["relation"] for link in bundle["link"]] == ["self", "next"]
    assert bundle["entry"][0]["fullUrl"] == f"{BASE}/DocumentReference/{entry.id}"


def test_audit_event_follows_the_balp_read_example() -> None:
    """IHE BALP (fixture AuditEvent-ex-auditBasicReadServer): same event type, restful
    subtype system, patient entity type/role and XrequestId entity type."""
    path = Path(__file__).parents[1] / "fixtures/fhir/ihe-balp/fsh-generated-examples"
    with (path / "AuditEvent-ex-auditBasicReadServer.json").open(encoding="utf-8") as handle:
        example = json.load(handle)
    event = render.audit_event(an_audit_entry(), a_record(), BASE)

    def drop_display(coding: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in coding.items() if k != "display"}

    assert drop_display(event["type"]) == drop_display(example["type"])
    assert drop_display(event["subtype"][0]) == drop_display(example["subtype"][0])
    assert event["action"] == example["action"] == "R"
    ours = {e["type"]["code"]: e for e in event["entity"]}
    theirs = {e["type"]["code"]: e for e in example["entity"]}
    assert drop_display(ours["1"]["role"]) == drop_display(theirs["1"]["role"])
    assert ours["XrequestId"]["type"] == theirs["XrequestId"]["type"]


def test_api25_mhd_minimal_document_renders_without_type_and_category() -> None:
    """API.md §25: a Minimal-metadata document has no type/category/designationType."""
    resource = validated(
        render.document_reference(a_document(type=NOT_GIVEN, category=NOT_GIVEN), BASE)
    )
    assert "type" not in resource and "category" not in resource
    ss = SubmissionSet(
        "s",
        RecordId("rec-1"),
        "1.2.3",
        "1.2",
        NOT_GIVEN,
        SUBMITTED,
        (),
        Submitter("professional", "899700218896"),
        SUBMITTED,
        (),
    )
    listed = validated(render.submission_set_list(ss, BASE))
    assert [e["url"].rsplit("/", 1)[1] for e in listed["extension"]] == ["ihe-sourceId"]
