"""The benchmark data generator makes data the server accepts (issue 5; ID-1, ID-2, ID-3, DOC-1).

Fast checks of `benchmarks/datagen.py` and `benchmarks/bundles.py`: NIR keys, INS test OID,
RPPS and structure ids, DMP type/class pairs, PDF sizes, and an ITI-65 bundle that the FHIR
edge parses and the DOC-1 checks of profile `dmp` accept without an error.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from benchmarks.bundles import BundleDocument, provide_bundle
from benchmarks.datagen import (
    MAX_PATIENTS,
    DocumentMix,
    NamePool,
    attachment_hash,
    document_kinds,
    make_pdf,
    nir,
    patient,
    professionals,
)

from opendmp.domain.identifiers import (
    OID_INS_TEST,
    IdnpsKind,
    is_valid_nir,
    parse_idnps,
    parse_idnst,
    parse_ins,
)
from opendmp.domain.metadata import check_type_class
from opendmp.domain.terminology import type_codes
from opendmp.fhir.iti65 import parse_provide_bundle
from tests.unit.test_fhir_iti65 import doc1_errors

NAMES = NamePool(
    families=("DURAND", "LEFÈVRE", "N'DIAYE"), males=("Jérôme", "Luc"), females=("Élodie", "Anne")
)
SINCE, UNTIL = datetime(2021, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("index", [0, 1, 998, 999, 998_000, 20 * 999 * 999, MAX_PATIENTS - 1])
def test_id1_generated_nir_has_a_valid_key(index: int) -> None:
    """ID-1: the key is 97 - N mod 97, Corsica (2A/2B, the last départements) included."""
    value = nir(index, male=index % 2 == 0, born=date(1984, 7, 9))
    assert is_valid_nir(value)
    assert value[1:5] == "8407"


def test_id1_nir_are_unique_per_index() -> None:
    born = date(1990, 1, 1)
    values = {nir(i * 7919, male=True, born=born) for i in range(5000)}
    assert len(values) == 5000


def test_nir_index_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        nir(MAX_PATIENTS, male=True, born=date(1990, 1, 1))


def test_id2_patients_use_the_ins_test_oid_and_match_their_nir() -> None:
    """ID-2: test INS OID 1.2.250.1.213.1.4.10; sex and birth month agree with the NIR."""
    for index in range(200):
        p = patient(index, NAMES, seed=4)
        assert p.ins_system == OID_INS_TEST == "1.2.250.1.213.1.4.10"
        assert parse_ins(p.ins_system, p.ins, allow_test=True).value == p.ins
        assert p.ins[0] == ("1" if p.sex == "male" else "2")
        assert p.ins[1:5] == f"{p.birth_date.year % 100:02d}{p.birth_date.month:02d}"
        assert p.family in {n.upper() for n in NAMES.families}


def test_patients_are_deterministic_per_seed() -> None:
    assert patient(42, NAMES, seed=1) == patient(42, NAMES, seed=1)
    assert patient(42, NAMES, seed=1).record_id != patient(42, NAMES, seed=2).record_id


def test_id3_professionals_have_rpps_idnps_and_valid_structures() -> None:
    staff = professionals(300, NAMES, seed=3)
    assert len({p.idnps for p in staff}) == 300
    for pro in staff:
        assert parse_idnps(pro.idnps) is IdnpsKind.RPPS
        assert len(pro.idnps) == 12
        parse_idnst(pro.structure)
    assert {p.producer.name for p in staff} >= {"general-practice", "hospital", "laboratory"}


def test_doc1_every_document_kind_is_a_dmp_type_with_its_class() -> None:
    """DOC-1 / ASS_X16: each drawn typeCode is in the DMP table with the class it pairs with."""
    kinds = document_kinds()
    assert abs(sum(k.weight for k in kinds) - 100.0) < 1e-6
    for kind in kinds:
        assert type_codes().contains(kind.type.system, kind.type.code)
        assert check_type_class(kind.type, kind.category) == []
    assert len(kinds) > 80  # the whole professional table, not a handful of codes


def test_document_mix_is_dominated_by_lab_results() -> None:
    mix = DocumentMix(professionals(200, NAMES))
    rng = random.Random(7)
    drawn = [mix.draw(rng, since=SINCE, until=UNTIL) for _ in range(5000)]
    lab = sum(1 for d in drawn if d.kind.type.code == "11502-2") / len(drawn)
    assert 0.25 < lab < 0.35
    assert all(SINCE <= d.date < UNTIL for d in drawn)
    assert all(2_048 <= d.size <= 5_000_000 for d in drawn)
    lab_authors = {d.author.producer.name for d in drawn if d.kind.type.code == "11502-2"}
    assert lab_authors == {"laboratory"}


@pytest.mark.parametrize("size", [900, 20_000, 123_457])
def test_make_pdf_has_the_requested_size_and_pdf_structure(size: int) -> None:
    data = make_pdf(size, ["Compte rendu d'examens biologiques", "Élodie DURAND"])
    assert len(data) == size
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    xref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[xref:].startswith(b"xref\n")


def test_doc1_generated_iti65_bundle_passes_the_dmp_profile_checks() -> None:
    """DOC-1 (profile dmp): the FHIR edge parses the bundle and no metadata check fails."""
    staff = professionals(50, NAMES)
    mix = DocumentMix(staff)
    rng = random.Random(11)
    p = patient(3, NAMES)
    docs = []
    for n in range(3):
        spec = mix.draw(rng, since=SINCE, until=UNTIL)
        docs.append(BundleDocument(spec, make_pdf(20_000, [spec.title], rng=rng), f"1.2.9.{n}"))
    bundle = provide_bundle(
        p, docs, submission_unique_id="1.2.9.100", source_oid="1.2.9", submitted=UNTIL
    )
    command = parse_provide_bundle(bundle, profile="dmp", base_url="http://127.0.0.1/fhir")
    assert doc1_errors(command) == set()
    assert command.subject_ins is not None and command.subject_ins.value == p.ins
    assert len(command.documents) == 3
    for draft, doc in zip(command.documents, docs, strict=True):
        assert draft.data == doc.data
        assert draft.declared_hash == attachment_hash(doc.data)
        assert draft.authors[0].id == doc.spec.author.idnps
        assert draft.authors[0].institution == doc.spec.author.structure


def test_bundle_names_the_record_by_reference_when_known() -> None:
    spec = DocumentMix(professionals(10, NAMES)).draw(random.Random(1), since=SINCE, until=UNTIL)
    bundle = provide_bundle(
        patient(1, NAMES),
        [BundleDocument(spec, make_pdf(2_000, ["x"]), "1.2.9.1")],
        submission_unique_id="1.2.9.2",
        source_oid="1.2.9",
        submitted=UNTIL,
        record_reference="Patient/abc",
    )
    command = parse_provide_bundle(bundle, profile="dmp", base_url="http://127.0.0.1/fhir")
    assert command.record_id == "abc"


def test_name_pool_draws_french_names_from_faker() -> None:
    pytest.importorskip("faker", reason="Faker comes with the `bench` extra")
    pool = NamePool.build(seed=1, size=400)
    assert len(pool.families) > 50 and pool.males and pool.females
    assert NamePool.build(seed=1, size=400) == pool


def test_aud2_bulk_audit_hash_equals_the_domain_entry_hash() -> None:
    """AUD-2: the loader's fast hash is the domain's `entry_hash`, so chains verify."""
    from dataclasses import replace

    from benchmarks.rows import Chain, RowFactory

    from opendmp.adapters.crypto import EnvelopeVault, StaticKeyProvider
    from opendmp.domain.audit import AuditEntry, Outcome, entry_hash, verify_chain

    staff = professionals(20, NAMES)
    factory = RowFactory(
        EnvelopeVault(StaticKeyProvider.generate()), DocumentMix(staff), staff,
        blob_bytes=900, now=UNTIL,
    )  # fmt: skip
    chain = Chain("rec-1")
    rows = [
        factory.audit(chain, staff[0], "record:open", "REC-1", SINCE, resource_type="Patient"),
        factory.audit(chain, staff[1], "record:document:submit", "DOC-1", UNTIL, detail="x"),
    ]
    entries = []
    for row in rows:
        (record_id, sequence, entry_id, recorded_at, action, outcome, rule, kind, actor_id,
         name, profession, structure, mode, reason, rtype, rid, request, client, detail,
         previous, digest) = row  # fmt: skip
        entry = AuditEntry(
            entry_id, record_id, recorded_at, action, Outcome(outcome), rule, kind, actor_id,
            name, profession, structure, mode, reason, rtype, rid, request, client, detail,
            sequence, previous, digest,
        )  # fmt: skip
        assert entry_hash(replace(entry, hash="")) == digest
        entries.append(entry)
    assert verify_chain(entries) == []


def test_bulk_rows_match_the_schema_columns() -> None:
    """Every row the loader builds has one value per column of its table (adapters.sql)."""
    from benchmarks.rows import COLUMNS, RowFactory

    from opendmp.adapters.crypto import EnvelopeVault, StaticKeyProvider

    staff = professionals(30, NAMES)
    vault = EnvelopeVault(StaticKeyProvider.generate())
    factory = RowFactory(vault, DocumentMix(staff), staff, blob_bytes=900, now=UNTIL)
    person = patient(9, NAMES)
    batch, opener = factory.record_with_documents(person, 12, random.Random(2))
    assert batch.documents == 12 and len(batch.blobs) == 12
    for table, rows in batch.rows.items():
        assert rows, table
        assert all(len(row) == len(COLUMNS[table]) for row in rows), table
    assert batch.rows["audit_heads"] == [
        (person.record_id, 13, batch.rows["audit_entries"][-1][-1])
    ]
    assert opener.idnps in {row[2] for row in batch.rows["consents"]}


def test_sec1_bulk_blobs_decrypt_with_their_record_key_and_match_metadata() -> None:
    """SEC-1, DOC-2: each blob is the document's bytes under the record's wrapped data key."""
    import hashlib

    from benchmarks.rows import RowFactory

    from opendmp.adapters.crypto import EnvelopeVault, StaticKeyProvider
    from opendmp.services.ports import WrappedKey

    staff = professionals(30, NAMES)
    vault = EnvelopeVault(StaticKeyProvider.generate())
    factory = RowFactory(vault, DocumentMix(staff), staff, blob_bytes=900, now=UNTIL)
    batch, _ = factory.record_with_documents(patient(4, NAMES), 3, random.Random(5))
    record_id, master, wrapped = batch.rows["record_keys"][0]
    key = WrappedKey(master, wrapped)
    size_and_sha1 = {row[1]: (row[18], row[19]) for row in batch.rows["documents"]}
    for blob_key, ciphertext in batch.blobs:
        data = vault.decrypt(key, ciphertext, context=blob_key)
        document_id = blob_key.removeprefix(f"{record_id}/")
        assert size_and_sha1[document_id] == (len(data), hashlib.sha1(data).hexdigest())
        assert data.startswith(b"%PDF-")
