"""REC-2..6: the record's life, pure."""

from datetime import UTC, date, datetime

import pytest

from opendmp.domain.errors import BusinessRuleViolation
from opendmp.domain.identifiers import OID_INS_NIR, Ins, RecordId
from opendmp.domain.record import (
    ClosureReason,
    Demographics,
    OpeningChannel,
    PatientSettings,
    Record,
    RecordState,
    activate,
    close,
    reopen,
    request_early_destruction,
)

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def a_record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "id": RecordId("r1"),
        "ins": Ins(OID_INS_NIR, "295109912611193"),
        "demographics": Demographics("DUPONT", "Marie", date(1995, 10, 1), "female"),
        "state": RecordState.OPEN,
        "opened_at": NOW,
        "opened_by": "810000000001",
        "channel": OpeningChannel.PROFESSIONAL,
        "is_activated": True,
    }
    fields.update(changes)
    return Record(**fields)  # type: ignore[arg-type]


def test_close_schedules_destruction_ten_years_later_rec_3_rec_4() -> None:
    closed = close(a_record(), reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    assert closed.state is RecordState.CLOSED
    assert closed.closure_reason is ClosureReason.PATIENT_REQUEST
    assert closed.destroy_after == datetime(2036, 3, 1, 10, 0, tzinfo=UTC)


def test_closing_a_closed_record_is_refused_rec_3() -> None:
    closed = close(a_record(), reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    with pytest.raises(BusinessRuleViolation) as caught:
        close(closed, reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    assert caught.value.rule == "REC-3"


def test_reopen_restores_the_open_state_rec_5() -> None:
    closed = close(a_record(), reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    reopened = reopen(closed)
    assert reopened.state is RecordState.OPEN
    assert reopened.closed_at is None and reopened.destroy_after is None


def test_activation_normalizes_emergency_consents_rec_2() -> None:
    record = a_record(is_activated=False, channel=OpeningChannel.BULK_IMPORT)
    chosen = PatientSettings(
        allow_centre_15=False, allow_break_the_glass=False, allow_masked_in_emergency=True
    )
    active = activate(record, settings=chosen)
    assert active.is_activated
    assert active.settings.allow_masked_in_emergency is False


def test_early_destruction_is_within_three_months_rec_4() -> None:
    closed = close(a_record(), reason=ClosureReason.PATIENT_REQUEST, at=NOW)
    asked = request_early_destruction(closed, at=NOW)
    assert asked.destroy_after is not None
    assert (asked.destroy_after - NOW).days == 90


@pytest.mark.parametrize(
    ("birth", "today", "is_minor"),
    [
        (date(2010, 5, 2), date(2028, 5, 1), True),
        (date(2010, 5, 2), date(2028, 5, 2), False),
        (date(1990, 1, 1), date(2026, 1, 1), False),
    ],
)
def test_minority_is_strictly_below_the_age_of_majority_rec_6(
    birth: date, today: date, is_minor: bool
) -> None:
    record = a_record(demographics=Demographics("X", "Y", birth, "male"))
    assert record.is_minor(today) is is_minor
