"""Realistic French test data for the benchmarks: patients, professionals, documents, bundles.

Everything is deterministic for a seed, so a run can be repeated and the load generator can
rebuild patient *i* without a manifest. Identifiers follow the rules the server checks:
valid NIR keys (ID-1) under the INS *test* OID (ID-2, accepted in demo/test deployments only),
IDNPS `8` + 11-digit RPPS and IDNST FINESS / RPPS-rang (ID-3). Document types come from the
package's DMP table with the class code ASS_X16 pairs with each (DOC-1).
"""

from __future__ import annotations

import base64
import hashlib
import random
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from opendmp.domain.documents import Coding
from opendmp.domain.identifiers import OID_INS_TEST, nir_key
from opendmp.domain.terminology import (
    content_type_codes,
    facility_type_codes,
    format_codes,
    practice_setting_codes,
    professions,
    type_codes,
)

TEST_INS_OID = OID_INS_TEST  # 1.2.250.1.213.1.4.10 (ID-2)
BENCH_OID = "1.2.250.1.999.5"  # root of the benchmark's uniqueIds and sourceId
PDF_FORMAT = "urn:ihe:iti:xds-sd:pdf:2008"
CONFIDENTIALITY = Coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N", "normal")
PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
MHD = "https://profiles.ihe.net/ITI/MHD/"
# Metropolitan départements, Corsica included (2A/2B exercise the ID-1 substitution).
DEPARTMENTS = tuple([f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"])
MAX_PATIENTS = len(DEPARTMENTS) * 999 * 999
# Age bands (years) and weights: a rough French age pyramid (assumption, not INSEE figures).
AGE_BANDS = ((0, 15, 17), (15, 30, 17), (30, 45, 18), (45, 60, 19), (60, 75, 18), (75, 100, 11))


def uuid_from(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng`: reproducible ids with the core's `new_id()` shape."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def nir(index: int, *, male: bool, born: date) -> str:
    """The NIR of patient `index`: sex, birth year and month, then a département, commune and
    order number derived from `index` (unique up to MAX_PATIENTS), then the ID-1 key."""
    if not 0 <= index < MAX_PATIENTS:
        raise ValueError(f"patient index {index} outside 0..{MAX_PATIENTS - 1}")
    department, rest = divmod(index, 999 * 999)
    commune, order = divmod(rest, 999)
    body = (
        f"{1 if male else 2}{born.year % 100:02d}{born.month:02d}"
        f"{DEPARTMENTS[department]}{commune + 1:03d}{order + 1:03d}"
    )
    return f"{body}{nir_key(body):02d}"


@dataclass(frozen=True, slots=True)
class NamePool:
    """French names drawn once from Faker's `fr_FR` provider, then sampled cheaply."""

    families: tuple[str, ...]
    males: tuple[str, ...]
    females: tuple[str, ...]

    @classmethod
    def build(cls, seed: int = 0, size: int = 2000) -> NamePool:
        from faker import Faker  # the `bench` extra; imported here so the rest works without it

        faker = Faker("fr_FR")
        faker.seed_instance(seed)
        return cls(
            families=tuple(sorted({faker.last_name() for _ in range(size)})),
            males=tuple(sorted({faker.first_name_male() for _ in range(size // 2)})),
            females=tuple(sorted({faker.first_name_female() for _ in range(size // 2)})),
        )


@dataclass(frozen=True, slots=True)
class Patient:
    index: int
    record_id: str
    ins: str
    family: str
    given: str
    birth_date: date
    sex: str  # "male" | "female" (FHIR administrative gender)

    @property
    def ins_system(self) -> str:
        return TEST_INS_OID


def patient(index: int, names: NamePool, *, seed: int = 0, today: date | None = None) -> Patient:
    """Patient `index` of the data set `seed`: the same inputs give the same patient."""
    rng = random.Random(seed * 0x9E3779B1 + index)
    male = rng.random() < 0.485
    low, high, _ = rng.choices(AGE_BANDS, weights=[b[2] for b in AGE_BANDS])[0]
    reference = today or date(2026, 1, 1)
    born = reference - timedelta(days=rng.randrange(low * 365, high * 365 + 1))
    return Patient(
        index=index,
        record_id=uuid_from(rng),
        ins=nir(index, male=male, born=born),
        family=rng.choice(names.families).upper(),
        given=rng.choice(names.males if male else names.females),
        birth_date=born,
        sex="male" if male else "female",
    )


@dataclass(frozen=True, slots=True)
class Producer:
    """A kind of document producer: profession, facility type and practice setting."""

    name: str
    profession: str  # TRE_G15
    facilities: tuple[str, ...]  # TRE_R02 codes
    practice: str  # TRE_A01
    establishment: bool  # FINESS structure (else a practice identified by RPPS-rang)
    share: float  # share of the professionals


PRODUCERS = (
    Producer("general-practice", "10", ("SA07", "SA08", "SA52"), "AMBULATOIRE", False, 0.38),
    Producer("hospital", "10", ("SA01", "SA03", "SA04"), "ETABLISSEMENT", True, 0.25),
    Producer("laboratory", "10", ("SA25", "SA29"), "AMBULATOIRE", True, 0.07),
    Producer("imaging", "10", ("SA08", "SA09"), "AMBULATOIRE", False, 0.07),
    Producer("pharmacy", "21", ("SA33",), "AMBULATOIRE", True, 0.13),
    Producer("nursing", "60", ("SA07", "SA08"), "SAD", False, 0.10),
)
_PRODUCER = {p.name: p for p in PRODUCERS}


@dataclass(frozen=True, slots=True)
class Professional:
    idnps: str  # "8" + RPPS
    name: str
    producer: Producer
    structure: str  # IDNST
    facility: str  # TRE_R02 code

    @property
    def profession(self) -> str:
        return self.producer.profession


def professionals(count: int, names: NamePool, *, seed: int = 0) -> tuple[Professional, ...]:
    """`count` test professionals: IDNPS `8` + `99` + 9 digits (test RPPS range of this harness),
    about five per structure; FINESS `1` + 9 digits or RPPS-rang `4` + RPPS + rank."""
    rng = random.Random(seed * 7919 + 17)
    out: list[Professional] = []
    structures: dict[str, list[str]] = {p.name: [] for p in PRODUCERS}
    for n in range(count):
        producer = rng.choices(PRODUCERS, weights=[p.share for p in PRODUCERS])[0]
        rpps = f"99{n:09d}"
        pool = structures[producer.name]
        if producer.establishment and pool and rng.random() < 0.8:
            structure = rng.choice(pool)
        elif producer.establishment:
            structure = f"199{len(out):07d}"
            pool.append(structure)
        else:
            structure = f"4{rpps}001"
        given = rng.choice(names.males + names.females)
        out.append(
            Professional(
                idnps=f"8{rpps}",
                name=f"{given} {rng.choice(names.families).upper()}",
                producer=producer,
                structure=structure,
                facility=rng.choice(producer.facilities),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """One DMP typeCode with its ASS_X16 class, who produces it and its size (bytes)."""

    type: Coding
    category: Coding
    producer: str
    weight: float
    median_bytes: int
    sigma: float = 0.6

    def size(self, rng: random.Random) -> int:
        """Log-normal around the median, 2 KB .. 5 MB."""
        return max(
            2_048, min(5_000_000, int(rng.lognormvariate(0, self.sigma) * self.median_bytes))
        )


# Shares (percent) and median sizes of the common document types. ASSUMPTIONS: the DMP does not
# publish its per-type volumes; lab results dominate what laboratories send (Ségur "vague 1"),
# then prescriptions, imaging reports and hospital letters. Every other professional type
# shares the TAIL_PERCENT left, so the whole table is exercised.
COMMON_TYPES: dict[str, tuple[str, float, int]] = {
    "11502-2": ("laboratory", 30.0, 60_000),  # CR d'examens biologiques
    "57833-6": ("general-practice", 10.0, 25_000),  # prescription de produits de santé
    "18748-4": ("imaging", 10.0, 80_000),  # CR d'imagerie médicale
    "11488-4": ("general-practice", 8.0, 45_000),  # CR de consultation
    "11490-0": ("hospital", 6.0, 120_000),  # lettre de liaison à la sortie
    "34112-3": ("hospital", 3.0, 150_000),  # CR hospitalier (séjour)
    "PRESC-BIO": ("general-practice", 3.0, 25_000),
    "60593-1": ("pharmacy", 3.0, 20_000),  # dispensation médicamenteuse
    "87273-9": ("nursing", 2.0, 15_000),  # note de vaccination
    "15507-7": ("hospital", 2.0, 60_000),  # CR de passage aux urgences
    "96349-6": ("general-practice", 2.0, 30_000),  # lettre d'adressage
    "34874-8": ("hospital", 1.5, 70_000),  # CR opératoire
    "60568-3": ("laboratory", 1.5, 50_000),  # anatomie et cytologie pathologiques
    "89601-9": ("general-practice", 1.5, 20_000),  # certificat médical
    "PRESC-KINE": ("general-practice", 1.0, 20_000),
    "PRESC-INF": ("general-practice", 1.0, 20_000),
    "34749-2": ("hospital", 1.0, 40_000),  # consultation pré-anesthésique
    "60591-5": ("general-practice", 1.0, 60_000),  # synthèse médicale
    "11369-6": ("nursing", 1.0, 20_000),  # historique des vaccinations
}
TAIL_PERCENT = 100.0 - sum(share for _, share, _ in COMMON_TYPES.values())
_CLASS_PRODUCER = {"31": "imaging", "42": "general-practice", "43": "pharmacy", "45": "nursing"}
# Not drawn: documents the patient deposits, the digital signature, reimbursement data (fed by
# the insurer, not a professional).
_EXCLUDED_PREFIXES = ("DOCPAT", "EXPPAT", "E1762", "REMB")


@cache
def document_kinds() -> tuple[DocumentKind, ...]:
    """Every professional DMP type code of the package table, weighted (sums to 100)."""
    common: list[DocumentKind] = []
    tail: list[tuple[Coding, Coding]] = []
    for concept in type_codes().concepts:
        if concept.code.startswith(_EXCLUDED_PREFIXES):
            continue
        props = concept.properties
        category = Coding(
            str(props["class_system"]), str(props["class_code"]), str(props["class_display"])
        )
        if concept.code in COMMON_TYPES:
            producer, share, median = COMMON_TYPES[concept.code]
            common.append(DocumentKind(concept.coding(), category, producer, share, median))
        else:
            tail.append((concept.coding(), category))
    share = TAIL_PERCENT / len(tail)
    rest = [
        DocumentKind(t, c, _CLASS_PRODUCER.get(c.code, "hospital"), share, 50_000) for t, c in tail
    ]
    return tuple(common + rest)


def coding_of(value_set_codes: Any, code: str) -> Coding:
    concept = next(c for c in value_set_codes.concepts if c.code == code)
    return Coding(concept.system, concept.code, concept.display)


@cache
def _fixed_codings() -> dict[str, Coding]:
    return {
        "format": coding_of(format_codes(), PDF_FORMAT),
        **{f"facility:{c.code}": c.coding() for c in facility_type_codes().concepts},
        **{f"practice:{c.code}": c.coding() for c in practice_setting_codes().concepts},
        **{f"profession:{c.code}": c.coding() for c in professions().concepts},
        **{f"activity:{c.code}": c.coding() for c in content_type_codes().concepts},
    }


def fixed_coding(key: str) -> Coding:
    """Format (PDF), facility, practice, profession and activity codings of the package tables."""
    return _fixed_codings()[key]


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    kind: DocumentKind
    author: Professional
    date: datetime
    size: int  # a realistic size for this type (the bytes actually sent may differ)
    title: str


class DocumentMix:
    """Draws documents: a type by weight, then an author who produces that type."""

    def __init__(self, staff: Sequence[Professional]) -> None:
        self.kinds = document_kinds()
        self._weights = [k.weight for k in self.kinds]
        self._by_producer: dict[str, list[Professional]] = {}
        for pro in staff:
            self._by_producer.setdefault(pro.producer.name, []).append(pro)
        self._staff = list(staff)

    def draw(self, rng: random.Random, *, since: datetime, until: datetime) -> DocumentSpec:
        kind = rng.choices(self.kinds, weights=self._weights)[0]
        authors = self._by_producer.get(kind.producer) or self._staff
        span = int((until - since).total_seconds())
        when = since + timedelta(seconds=rng.randrange(max(1, span)))
        return DocumentSpec(kind, rng.choice(authors), when, kind.size(rng), kind.type.display)


def _ascii(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return bare.replace("\\", "").replace("(", "").replace(")", "")


def make_pdf(size: int, lines: Sequence[str], *, rng: random.Random | None = None) -> bytes:
    """A valid one-page PDF of exactly `size` bytes (when `size` allows it): the text lines,
    then an incompressible filler stream standing for images and fonts."""
    text = "".join(f"({_ascii(line)}) Tj 0 -16 Td " for line in lines)
    content = f"BT /F1 11 Tf 56 780 Td {text}ET".encode("ascii")
    filler_rng = rng or random.Random(size)

    def build(filler: int) -> bytes:
        objects = [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R"
            b"/Resources<</Font<</F1 5 0 R>>>>>>",
            b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
            b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
            b"<</Length %d>>stream\n" % filler + filler_rng.randbytes(filler) + b"\nendstream",
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            xref,
        )
        return bytes(out)

    state = filler_rng.getstate()
    base = len(build(0))
    filler = max(0, size - base)
    for _ in range(3):  # the filler's length digits and the xref offset move the total a little
        filler_rng.setstate(state)
        candidate = build(filler)
        if len(candidate) == size or filler == 0:
            return candidate
        filler = max(0, filler + size - len(candidate))
    return candidate


def attachment_hash(data: bytes) -> str:
    """FHIR R4 Attachment.hash: base64 SHA-1 of the bytes (DOC-2)."""
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode("ascii")
