"""The audit trail on SQLite and PostgreSQL: chaining and tamper detection (AUD-1..4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from opendmp.adapters.sql import SqlUnitOfWorkFactory
from opendmp.adapters.sql.audit import KnownReaders
from opendmp.domain.audit import GENESIS, AuditEntry, Outcome, entry_hash, verify_chain
from opendmp.domain.identifiers import RecordId
from opendmp.services.ports import AuditQuery
from tests.builders import NOW, an_audit_entry, new_id

RECORD = RecordId("rec-audit")


def append_many(uow_factory: SqlUnitOfWorkFactory, entries: list[AuditEntry]) -> list[AuditEntry]:
    with uow_factory() as uow:
        chained = [uow.audit.append(entry) for entry in entries]
        uow.commit()
    return chained


def read_chain(uow_factory: SqlUnitOfWorkFactory, key: str) -> list[AuditEntry]:
    with uow_factory() as uow:
        return list(uow.audit.chain(key))


def test_append_chains_entries_per_record(uow_factory: SqlUnitOfWorkFactory) -> None:
    """AUD-2: sequence, previous hash and hash are set; each record has its own chain."""
    other = RecordId("rec-other")
    chained = append_many(
        uow_factory,
        [
            an_audit_entry(RECORD),
            an_audit_entry(other),
            an_audit_entry(RECORD),
            an_audit_entry(None),
            an_audit_entry(RECORD, outcome=Outcome.REFUSED, rule="R-PS-1"),
        ],
    )
    first, _, second, nobody, third = chained
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.previous_hash == GENESIS
    assert second.previous_hash == first.hash and third.previous_hash == second.hash
    assert all(entry.hash == entry_hash(entry) for entry in chained)
    assert (nobody.record_id, nobody.sequence) == (None, 1)
    assert read_chain(uow_factory, RECORD) == [first, second, third]
    assert read_chain(uow_factory, "") == [nobody]
    assert verify_chain(read_chain(uow_factory, RECORD)) == []
    with uow_factory() as uow:
        assert list(uow.audit.chains()) == sorted(["", RECORD, other])
        assert uow.audit.head(RECORD) == (3, third.hash)
        assert uow.audit.head("unknown") is None


def test_recorded_at_is_hashed_as_utc(uow_factory: SqlUnitOfWorkFactory) -> None:
    """A trace taken in Paris time verifies after its UTC round trip."""
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    append_many(uow_factory, [an_audit_entry(RECORD, recorded_at=paris)])
    assert verify_chain(read_chain(uow_factory, RECORD)) == []


def test_a_rolled_back_append_leaves_the_chain_intact(uow_factory: SqlUnitOfWorkFactory) -> None:
    first = append_many(uow_factory, [an_audit_entry(RECORD)])[0]
    with uow_factory() as uow:
        uow.audit.append(an_audit_entry(RECORD))
    second = append_many(uow_factory, [an_audit_entry(RECORD)])[0]
    assert (second.sequence, second.previous_hash) == (2, first.hash)


def test_chains_longer_than_a_batch_are_read_in_order(uow_factory: SqlUnitOfWorkFactory) -> None:
    entries = append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(1205)])
    assert read_chain(uow_factory, RECORD) == entries


def _tamper(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def test_verify_finds_an_edited_entry(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    """AUD-2: a changed field no longer matches its hash."""
    append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(3)])
    _tamper(
        engine,
        "UPDATE audit_entries SET actor_id = 'someone-else' WHERE record_id = :r AND sequence = 2",
        r=RECORD,
    )
    breaks = verify_chain(read_chain(uow_factory, RECORD))
    assert [(b.sequence, b.problem) for b in breaks] == [(2, "content does not match its hash")]


def test_verify_finds_a_deleted_entry(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    """AUD-2: a hole in the sequence and a broken link."""
    append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(3)])
    _tamper(engine, "DELETE FROM audit_entries WHERE record_id = :r AND sequence = 2", r=RECORD)
    breaks = verify_chain(read_chain(uow_factory, RECORD))
    assert {b.sequence for b in breaks} == {3}
    assert any("deleted" in b.problem for b in breaks)
    assert any("previous entry's hash" in b.problem for b in breaks)


def test_verify_finds_swapped_entries(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    """AUD-2: reordering two entries (swapping their sequence numbers) breaks the chain."""
    append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(4)])
    for old, new in ((2, -2), (3, 2), (-2, 3)):
        _tamper(
            engine,
            "UPDATE audit_entries SET sequence = :new WHERE record_id = :r AND sequence = :old",
            r=RECORD,
            old=old,
            new=new,
        )
    entries = read_chain(uow_factory, RECORD)
    assert [e.sequence for e in entries] == [1, 2, 3, 4]
    assert verify_chain(entries) != []


def test_verify_finds_entries_cut_off_the_end(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """AUD-2: the head still records the cut entries, so the truncation shows."""
    chained = append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(3)])
    _tamper(engine, "DELETE FROM audit_entries WHERE record_id = :r AND sequence = 3", r=RECORD)
    entries = read_chain(uow_factory, RECORD)
    assert entries[-1].id == f"head:{RECORD}"
    assert entries[-1].sequence == 4 and entries[-1].previous_hash == chained[-1].hash
    breaks = verify_chain(entries)
    assert [b.entry_id for b in breaks] == [f"head:{RECORD}"] * len(breaks) and breaks


def test_verify_finds_a_rehashed_last_entry(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """AUD-2: rewriting the last entry with a consistent hash still disagrees with the head."""
    chained = append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(2)])
    forged = replace(chained[-1], actor_id="someone-else", hash="")
    forged = replace(forged, hash=entry_hash(forged))
    _tamper(
        engine,
        "UPDATE audit_entries SET actor_id = :a, hash = :h WHERE record_id = :r AND sequence = 2",
        a=forged.actor_id,
        h=forged.hash,
        r=RECORD,
    )
    breaks = verify_chain(read_chain(uow_factory, RECORD))
    assert [b.entry_id for b in breaks] == [f"head:{RECORD}"]


def test_search_filters_orders_and_pages(uow_factory: SqlUnitOfWorkFactory) -> None:
    """AUD-3 / R-PS-7: all traces, or only the caller's; newest first by default."""
    entries = append_many(
        uow_factory,
        [
            an_audit_entry(
                RECORD,
                recorded_at=NOW + timedelta(minutes=n),
                actor_id="me" if n % 2 else "other",
            )
            for n in range(6)
        ]
        + [an_audit_entry(RecordId("rec-elsewhere"), actor_id="me")],
    )
    mine = [e for e in entries[:6] if e.actor_id == "me"]
    with uow_factory() as uow:
        page = uow.audit.search(RECORD, AuditQuery())
        assert page.items == entries[:6][::-1] and page.total == 6
        page = uow.audit.search(RECORD, AuditQuery(actor_id="me", count=2))
        assert page.items == mine[::-1][:2] and page.total == 3
        page = uow.audit.search(
            RECORD,
            AuditQuery(
                date_from=NOW + timedelta(minutes=1),
                date_to=NOW + timedelta(minutes=4),
                newest_first=False,
                offset=1,
            ),
        )
        assert page.items == entries[2:4] and page.total == 3


def test_has_access_by_counts_successful_content_reads_only(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """NOT-1: the first access notice depends on earlier successful reads by this actor."""
    append_many(
        uow_factory,
        [
            an_audit_entry(RECORD, actor_id="reader", action="record:document:submit"),
            an_audit_entry(
                RECORD,
                actor_id="reader",
                action="record:document:read",
                outcome=Outcome.REFUSED,
            ),
        ],
    )
    with uow_factory() as uow:
        assert not uow.audit.has_access_by(RECORD, "reader")
    append_many(uow_factory, [an_audit_entry(RECORD, actor_id="reader")])
    with uow_factory() as uow:
        assert uow.audit.has_access_by(RECORD, "reader")
        assert not uow.audit.has_access_by(RecordId("rec-elsewhere"), "reader")


def test_tombstone_replaces_the_chain(uow_factory: SqlUnitOfWorkFactory) -> None:
    """REC-4, AUD-4: after destruction a single pseudonymous entry remains, and verifies."""
    append_many(uow_factory, [an_audit_entry(RECORD) for _ in range(3)])
    tombstone = an_audit_entry(
        RECORD, action="record:destroy", actor_kind="system", actor_id="opendmp", id=new_id()
    )
    with uow_factory() as uow:
        uow.audit.replace_chain_with_tombstone(RECORD, tombstone)
        uow.commit()
    entries = read_chain(uow_factory, RECORD)
    assert [(e.id, e.sequence) for e in entries] == [(tombstone.id, 1)]
    assert verify_chain(entries) == []
    following = append_many(uow_factory, [an_audit_entry(RECORD)])[0]
    assert (following.sequence, following.previous_hash) == (2, entries[0].hash)


def test_known_readers_are_remembered_and_the_oldest_forgotten(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """A yes is kept for the next units of work (the trail is append-only); a no never is."""
    with uow_factory() as uow:
        assert not uow.audit.has_access_by(RECORD, "reader")
    assert (RECORD, "reader") not in uow_factory.readers
    append_many(uow_factory, [an_audit_entry(RECORD, actor_id="reader")])
    with uow_factory() as uow:
        assert uow.audit.has_access_by(RECORD, "reader")
    assert (RECORD, "reader") in uow_factory.readers
    readers = KnownReaders(size=2)
    for pair in [("rec-a", "1"), ("rec-b", "2"), ("rec-c", "3")]:
        readers.add(pair)
    assert ("rec-a", "1") not in readers
    assert ("rec-b", "2") in readers
    assert ("rec-c", "3") in readers
