"""Search parameters: ITI-67 DocumentReference, ITI-66 List, AuditEvent (API.md §13, §27;
SPEC.md DOC-5, SEC-3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opendmp.domain.documents import Coding, DocumentStatus, Label, SubmissionSet, Submitter
from opendmp.domain.errors import ErrorKind, ValidationFailed
from opendmp.domain.identifiers import DocumentId, Ins, RecordId
from opendmp.fhir.search import (
    page_links,
    parse_audit_search,
    parse_date_range,
    parse_document_search,
    parse_list_search,
)
from opendmp.fhir.validation import Issues
from opendmp.services.ports import SortOrder

BASE = "https://dmp.example/fhir"


def search(*params: tuple[str, str], strict: bool = False):  # type: ignore[no-untyped-def]
    return parse_document_search(list(params), strict=strict, base_url=BASE)


def codes_of(error: ValidationFailed) -> set[str]:
    return {i.code for i in error.issues}


@pytest.mark.parametrize(
    ("params", "record_id", "ins"),
    [
        pytest.param([("patient", "Patient/rec-1")], "rec-1", None, id="reference"),
        pytest.param([("patient", "rec-1")], "rec-1", None, id="bare-id"),
        pytest.param([("patient", f"{BASE}/Patient/rec-1")], "rec-1", None, id="absolute"),
        pytest.param(
            [("patient.identifier", "urn:oid:1.2.250.1.213.1.4.8|295109912611193")],
            None,
            Ins("1.2.250.1.213.1.4.8", "295109912611193"),
            id="ins",
        ),
    ],
)
def test_api13_patient_forms(
    params: list[tuple[str, str]], record_id: str | None, ins: Ins | None
) -> None:
    patient, _, _ = search(*params)
    assert (patient.record_id, patient.ins) == (record_id, ins)


def test_api13_patient_is_required() -> None:
    """API.md §13: patient or patient.identifier is required (400)."""
    with pytest.raises(ValidationFailed) as caught:
        search(("status", "current"))
    assert caught.value.kind is ErrorKind.INVALID and codes_of(caught.value) == {"DMP-0620"}


def test_doc5_default_status_is_current_only() -> None:
    """DOC-5: deleted and superseded documents are left out unless `status` asks for them."""
    _, query, _ = search(("patient", "rec-1"))
    assert query.statuses == frozenset({DocumentStatus.CURRENT})
    _, query, _ = search(("patient", "rec-1"), ("status", "current,entered-in-error"))
    assert query.statuses == {DocumentStatus.CURRENT, DocumentStatus.ENTERED_IN_ERROR}


def test_iti67_every_parameter() -> None:
    _, query, kept = search(
        ("patient", "rec-1"),
        ("type", "http://loinc.org|11488-4,34133-9"),
        ("category", "10"),
        ("author.identifier", "urn:oid:1.2.250.1.71.4.2.1|899700218896,810101201234"),
        ("facility", "SA01"),
        ("setting", "ETABLISSEMENT"),
        ("event", "E1"),
        ("security-label", "N,MASQUE_PS"),
        ("identifier", "urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.1"),
        ("_sort", "date"),
        ("_count", "10"),
        ("_offset", "20"),
    )
    assert query.type_codes == {"11488-4", "34133-9"}
    assert query.category_codes == {"10"}
    assert query.facility_codes == {"SA01"} and query.setting_codes == {"ETABLISSEMENT"}
    assert query.event_codes == {"E1"}
    assert query.author_ids == {"899700218896", "810101201234"}
    assert query.security_labels == {Label.MASQUE_PS}  # N is on every document
    assert query.unique_ids == {"1.2.250.1.999.1"}
    assert query.sort is SortOrder.DATE_ASC and (query.count, query.offset) == (10, 20)
    assert ("_count", "10") in kept and ("type", "http://loinc.org|11488-4,34133-9") in kept


def test_repeated_token_with_different_values_is_400() -> None:
    """Choice: a token repeated with different values is an AND nothing meets; say so."""
    with pytest.raises(ValidationFailed) as caught:
        search(("patient", "rec-1"), ("type", "a"), ("type", "b"))
    assert codes_of(caught.value) == {"DMP-0621"}


def test_rpps_author_identifier_becomes_idnps() -> None:
    _, query, _ = search(
        ("patient", "rec-1"), ("author.identifier", "https://rpps.esante.gouv.fr|10101201234")
    )
    assert query.author_ids == {"810101201234"}


@pytest.mark.parametrize(
    ("values", "start", "end"),
    [
        pytest.param(
            ["2026"], datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), id="year"
        ),
        pytest.param(
            ["eq2026-02"],
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
            id="month",
        ),
        pytest.param(["ge2026-02-03"], datetime(2026, 2, 3, tzinfo=UTC), None, id="ge"),
        pytest.param(["gt2026-02-03"], datetime(2026, 2, 4, tzinfo=UTC), None, id="gt-day"),
        pytest.param(["le2026-02-03"], None, datetime(2026, 2, 4, tzinfo=UTC), id="le-day"),
        pytest.param(["lt2026-02-03"], None, datetime(2026, 2, 3, tzinfo=UTC), id="lt"),
        pytest.param(
            ["ge2026-01-01", "lt2026-02-01T10:00:00+01:00"],
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 2, 1, 9, 0, tzinfo=UTC),
            id="range-with-zone",
        ),
    ],
)
def test_date_prefixes(values: list[str], start: datetime | None, end: datetime | None) -> None:
    issues = Issues()
    found = parse_date_range(values, "date", issues)
    assert not issues
    assert (found.start, found.end) == (start, end)


@pytest.mark.parametrize("value", ["ne2026", "2026-13", "yesterday", "ap2026-01-01"])
def test_unsupported_dates_are_400(value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        search(("patient", "rec-1"), ("date", value))
    assert caught.value.kind is ErrorKind.INVALID


def test_period_and_date() -> None:
    _, query, _ = search(("patient", "rec-1"), ("date", "ge2026-01-01"), ("period", "2026-01"))
    assert query.date_from == datetime(2026, 1, 1, tzinfo=UTC) and query.date_to is None
    assert (query.period_from, query.period_to) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    )


def test_sec3_count_is_capped_at_200() -> None:
    """SEC-3, API.md §13: `_count` above 200 is capped at 200 (also in the self link)."""
    _, query, kept = search(("patient", "rec-1"), ("_count", "5000"))
    assert query.count == 200 and ("_count", "200") in kept


def test_api13_unknown_parameters_ignored_and_left_out_of_self_link() -> None:
    _, _, kept = search(("patient", "rec-1"), ("foo", "bar"), ("_format", "json"))
    assert kept == [("patient", "rec-1")]


def test_api13_strict_handling_rejects_unknown_parameters() -> None:
    """API.md §13: `Prefer: handling=strict` makes unknown parameters a 400."""
    with pytest.raises(ValidationFailed) as caught:
        search(("patient", "rec-1"), ("foo", "bar"), strict=True)
    assert codes_of(caught.value) == {"DMP-0622"}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param([("status", "deleted")], id="status"),
        pytest.param([("security-label", "SECRET")], id="security-label"),
        pytest.param([("_count", "-1")], id="count"),
        pytest.param([("_offset", "x")], id="offset"),
    ],
)
def test_bad_values_are_400(params: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        search(("patient", "rec-1"), *params)
    assert caught.value.kind is ErrorKind.INVALID and codes_of(caught.value) == {"DMP-0621"}


def test_unknown_sort_ignored_unless_strict() -> None:
    _, query, kept = search(("patient", "rec-1"), ("_sort", "title"))
    assert query.sort is SortOrder.DATE_DESC and ("_sort", "title") not in kept
    with pytest.raises(ValidationFailed):
        search(("patient", "rec-1"), ("_sort", "title"), strict=True)


def a_set(unique: str, day: int, source: str = "1.2.3", code: str = "04") -> SubmissionSet:
    moment = datetime(2026, 1, day, tzinfo=UTC)
    return SubmissionSet(
        unique,
        RecordId("rec-1"),
        unique,
        source,
        Coding("urn:ct", code),
        moment,
        (),
        Submitter("professional", "899700218896"),
        moment,
        (DocumentId("d"),),
    )


def test_iti66_list_search_filters_and_pages() -> None:
    patient, query, kept = parse_list_search(
        [
            ("patient", "Patient/rec-1"),
            ("code", "submissionset"),
            ("date", "ge2026-01-02"),
            ("designationType", "urn:ct|04"),
            ("sourceId", "urn:ietf:rfc:3986|urn:oid:1.2.3"),
            ("_count", "1"),
        ],
        strict=False,
    )
    assert patient.record_id == "rec-1"
    sets = [a_set("a", 1), a_set("b", 2), a_set("c", 3), a_set("d", 4, source="9.9")]
    page, total = query.page(sets)
    assert total == 2 and [s.id for s in page] == ["c"]
    assert ("_count", "1") in kept


def test_iti66_folder_search_finds_nothing() -> None:
    """Folders are not kept (MHD 4.2 §2:3.65.4.1.3 choice): `code=folder` matches nothing."""
    _, query, _ = parse_list_search([("patient", "rec-1"), ("code", "folder")], strict=False)
    assert query.page([a_set("a", 1)]) == ([], 0)


def test_audit_event_search() -> None:
    """API.md Access history: patient, date, agent, _sort (R-PS-7 narrowing is the service's)."""
    patient, query, _ = parse_audit_search(
        [
            ("patient", "rec-1"),
            ("date", "ge2026-01-01"),
            ("agent", "Practitioner/899700218896"),
            ("_sort", "date"),
            ("_count", "300"),
        ],
        strict=False,
        base_url=BASE,
    )
    assert patient.record_id == "rec-1"
    assert query.actor_id == "899700218896" and query.newest_first is False
    assert query.date_from == datetime(2026, 1, 1, tzinfo=UTC) and query.count == 200
    _, by_identifier, _ = parse_audit_search(
        [("patient", "rec-1"), ("agent.identifier", "urn:oid:1.2.250.1.71.4.2.1|810101201234")],
        strict=False,
    )
    assert by_identifier.actor_id == "810101201234" and by_identifier.newest_first is True


def test_page_links_next_by_offset() -> None:
    params = [("patient", "rec-1"), ("_count", "10")]
    self_url, next_url = page_links(
        BASE, "DocumentReference", params, offset=10, count=10, total=25
    )
    assert self_url == f"{BASE}/DocumentReference?patient=rec-1&_count=10&_offset=10"
    assert next_url == f"{BASE}/DocumentReference?patient=rec-1&_count=10&_offset=20"
    assert page_links(BASE, "DocumentReference", params, offset=20, count=10, total=25)[1] is None
