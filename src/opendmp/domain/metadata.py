"""DOC-1 metadata checks on already-parsed values, for the `dmp` and `mhd` profiles (SPEC.md §10).

Pure: the FHIR edge parses a DocumentReference / List into the small inputs below, these
functions return *every* issue (API.md Details §25), each an error or a warning with a stable
code and the element as a FHIRPath expression relative to the resource. Codes:

| code     | severity | meaning |
|----------|----------|---------|
| DMP-0201 | error    | required element missing |
| DMP-0202 | error    | code not in the DMP value set (or not in a code system the table draws on) |
| DMP-0203 | warning  | code of the table's code system that an incomplete table lacks (accepted) |
| DMP-0204 | error    | category does not match the type (ASS_X16) |
| DMP-0205 | error    | securityLabel without the confidentiality code `N` |
| DMP-0206 | error    | coding without system or code |
| DMP-0207 | error    | attachment.size differs from the bytes |
| DMP-0208 | error    | attachment.hash differs from the SHA-1 of the bytes |
| DMP-0209 | error    | attachment.hash is not base64 of a SHA-1 (20 bytes) |

Paths: `DocumentPath` / `SubmissionSetPath`; a repeated element is indexed
(`DocumentReference.securityLabel[1]`); List extensions are named by their full IHE URL, as
FHIRPath's `extension(url)` requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from opendmp.domain import terminology
from opendmp.domain.documents import CONFIDENTIALITY_SYSTEM, Author, AuthorKind, Coding, Label
from opendmp.domain.errors import BusinessRuleViolation, ValidationFailed
from opendmp.domain.terminology import Membership, ValueSet

RULE = "DOC-1"
NORMAL = "N"  # HL7 v3 Confidentiality "normal": first securityLabel of a DMP document (DOC-7)
_MHD_SD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"


class MetadataProfile(StrEnum):
    """Which rules bind the metadata (SPEC.md §10); MHD_MINIMAL when the bundle declares it."""

    DMP = "dmp"  # PDSm comprehensive + DMP value sets
    MHD = "mhd"  # IHE MHD 4.2 Comprehensive Metadata
    MHD_MINIMAL = "mhd-minimal"  # IHE MHD 4.2 Minimal Metadata (API.md Details §25)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"  # API.md Details §16: reported in the entry's response.outcome


class DocumentPath(StrEnum):
    MASTER_IDENTIFIER = "DocumentReference.masterIdentifier"
    STATUS = "DocumentReference.status"
    TYPE = "DocumentReference.type"
    CATEGORY = "DocumentReference.category"
    SUBJECT = "DocumentReference.subject"
    DATE = "DocumentReference.date"
    AUTHOR = "DocumentReference.author"
    CUSTODIAN = "DocumentReference.custodian"
    SECURITY_LABEL = "DocumentReference.securityLabel"
    ATTACHMENT = "DocumentReference.content[0].attachment"
    CONTENT_TYPE = "DocumentReference.content[0].attachment.contentType"
    SIZE = "DocumentReference.content[0].attachment.size"
    HASH = "DocumentReference.content[0].attachment.hash"
    TITLE = "DocumentReference.content[0].attachment.title"
    LANGUAGE = "DocumentReference.content[0].attachment.language"
    CREATION = "DocumentReference.content[0].attachment.creation"
    FORMAT = "DocumentReference.content[0].format"
    FACILITY_TYPE = "DocumentReference.context.facilityType"
    PRACTICE_SETTING = "DocumentReference.context.practiceSetting"
    PERIOD_START = "DocumentReference.context.period.start"


class SubmissionSetPath(StrEnum):
    UNIQUE_ID = "List.identifier"
    SOURCE_ID = f"List.extension('{_MHD_SD}ihe-sourceId')"
    DESIGNATION_TYPE = f"List.extension('{_MHD_SD}ihe-designationType')"
    AUTHOR = "List.source"
    DATE = "List.date"
    SUBJECT = "List.subject"


@dataclass(frozen=True, slots=True)
class MetadataIssue:
    """One DOC-1 finding; errors reject the whole bundle, warnings travel with the response."""

    severity: Severity
    code: str
    message: str
    path: str
    rule: str = RULE

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_error(self, *, prefix: str | None = None) -> BusinessRuleViolation:
        """The error to raise; `prefix` re-roots the path (`Bundle.entry[2].resource.type`)."""
        return BusinessRuleViolation(
            self.code, self.message, rule=self.rule, path=self.located(prefix)
        )

    def located(self, prefix: str | None) -> str:
        if not prefix:
            return self.path
        _, _, relative = self.path.partition(".")
        return f"{prefix}.{relative}" if relative else prefix


Issue = MetadataIssue  # short name used by the services


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What DOC-1 checks of one DocumentReference; None / empty means absent in the resource."""

    unique_id: str | None = None  # masterIdentifier
    status: str | None = None
    type: Coding | None = None
    category: Coding | None = None
    subject: str | None = None  # reference or INS, as given
    date: datetime | None = None
    authors: tuple[Author, ...] = ()
    custodian: str | None = None
    confidentiality: tuple[Coding, ...] = ()  # securityLabel as given, labels included
    content_type: str | None = None
    declared_size: int | None = None  # attachment.size
    declared_hash: str | None = None  # attachment.hash: base64 of SHA-1, as FHIR gives it
    title: str | None = None
    language: str | None = None
    creation: datetime | None = None  # attachment.creation (MHD), `date` in PDSm
    format: Coding | None = None
    facility_type: Coding | None = None
    practice_setting: Coding | None = None
    period_start: datetime | None = None
    data: bytes | None = None  # the document's bytes, when known: size and hash are checked
    is_patient_document: bool | None = None  # None: a patient among the authors (DOC-6)

    @property
    def is_patient_authored(self) -> bool:
        """DOC-6, API.md Details §15: the server fills custodian of patient documents."""
        if self.is_patient_document is not None:
            return self.is_patient_document
        return any(a.kind is AuthorKind.PATIENT for a in self.authors)


@dataclass(frozen=True, slots=True)
class SubmissionSetMetadata:
    """What DOC-1 checks of the SubmissionSet (List)."""

    unique_id: str | None = None
    source_id: str | None = None
    content_type: Coding | None = None  # designationType (XDS contentTypeCode)
    authors: tuple[Author, ...] = ()
    date: datetime | None = None
    subject: str | None = None


def _error(code: str, message: str, path: str) -> MetadataIssue:
    return MetadataIssue(Severity.ERROR, code, message, str(path))


def _is_present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, tuple):
        return len(value) > 0
    return True


def _missing(path: str) -> MetadataIssue:
    return _error("DMP-0201", f"{path} is required", path)


def is_well_formed(coding: Coding) -> bool:
    """SPEC.md §10 `mhd`: a coding names both its system and its code."""
    return coding.system.strip() != "" and coding.code.strip() != ""


def check_well_formed(coding: Coding, path: str) -> list[MetadataIssue]:
    if is_well_formed(coding):
        return []
    return [_error("DMP-0206", f"{path} must have a system and a code", path)]


def check_membership(coding: Coding, value_set: ValueSet, path: str) -> list[MetadataIssue]:
    """DOC-1: a code of the table; or, for an incomplete table, of its code system (warning)."""
    membership = value_set.membership(coding.system, coding.code)
    if membership is Membership.MEMBER:
        return []
    if membership is Membership.UNLISTED:
        return [
            MetadataIssue(
                Severity.WARNING,
                "DMP-0203",
                f"{path}: code {coding.code!r} of {coding.system} is not in the incomplete "
                f"table {value_set.id}; accepted",
                str(path),
            )
        ]
    return [
        _error(
            "DMP-0202",
            f"{path}: code {coding.code!r} of {coding.system or '(no system)'} is not in "
            f"{value_set.id}",
            path,
        )
    ]


def check_type_class(type_: Coding, category: Coding) -> list[MetadataIssue]:
    """DOC-1, ASS_X16: the category must be the class of the type (both already in their sets)."""
    expected = terminology.type_class(type_.system, type_.code)
    given = terminology.canonical_coding(terminology.class_codes(), category)
    if expected is None or not terminology.class_codes().contains(given.system, given.code):
        return []  # reported by the membership checks
    if (given.system, given.code) == (expected.system, expected.code):
        return []
    return [
        _error(
            "DMP-0204",
            f"{DocumentPath.CATEGORY}: type {type_.code!r} requires class {expected.code!r} "
            f"({expected.display}), not {category.code!r} (ASS_X16)",
            DocumentPath.CATEGORY,
        )
    ]


def _label_of(coding: Coding) -> Label | None:
    concept = terminology.confidentiality_codes().lookup(coding.system, coding.code)
    if concept is None or concept.system != terminology.LABEL_SYSTEM_URI:
        return None
    return Label(concept.code)


def normalize_security_labels(
    codings: Iterable[Coding],
) -> tuple[tuple[Coding, ...], frozenset[Label]]:
    """DOC-7, API.md Details §8/§25: split TRE_A07 labels from confidentiality codes, N first.

    Known systems are rewritten to the table's URI (`urn:oid:2.16.840.1.113883.5.25` → HL7),
    duplicates dropped, the rest kept in the order given. Unknown codes stay in the
    confidentiality tuple: rejecting them is `check_security_labels`' job.
    """
    table = terminology.confidentiality_codes()
    labels: set[Label] = set()
    kept: list[Coding] = []
    seen: set[tuple[str, str]] = set()
    for coding in codings:
        label = _label_of(coding)
        if label is not None:
            labels.add(label)
            continue
        canonical = terminology.canonical_coding(table, coding)
        if (canonical.system, canonical.code) not in seen:
            seen.add((canonical.system, canonical.code))
            kept.append(canonical)
    kept.sort(key=lambda c: not _is_normal(c))  # stable: only N moves
    return tuple(kept), frozenset(labels)


def _is_normal(coding: Coding) -> bool:
    return coding.code == NORMAL and (
        terminology.confidentiality_codes().canonical_system(coding.system)
        == CONFIDENTIALITY_SYSTEM
    )


def check_security_labels(
    codings: tuple[Coding, ...], profile: MetadataProfile | str
) -> list[MetadataIssue]:
    """DOC-1, DOC-7: `dmp` wants N and only JDV_J58 codes; `mhd` well-formed codings."""
    profile = MetadataProfile(profile)
    path = DocumentPath.SECURITY_LABEL
    issues: list[MetadataIssue] = []
    for index, coding in enumerate(codings):
        item = f"{path}[{index}]"
        malformed = check_well_formed(coding, item)
        issues += malformed
        if profile is MetadataProfile.DMP and not malformed:
            issues += check_membership(coding, terminology.confidentiality_codes(), item)
    if profile is MetadataProfile.DMP and not any(_is_normal(c) for c in codings):
        issues.append(_error("DMP-0205", f"{path} must contain the confidentiality code N", path))
    elif profile is MetadataProfile.MHD and not codings:
        issues.append(_missing(path))
    return issues


def _required_document(meta: DocumentMetadata, profile: MetadataProfile) -> list[MetadataIssue]:
    paths = DocumentPath
    values: dict[DocumentPath, object] = {
        paths.MASTER_IDENTIFIER: meta.unique_id,
        paths.STATUS: meta.status,
        paths.CONTENT_TYPE: meta.content_type,
    }
    if profile is not MetadataProfile.MHD_MINIMAL:
        values |= {
            paths.TYPE: meta.type,
            paths.CATEGORY: meta.category,
            paths.SUBJECT: meta.subject,
            paths.LANGUAGE: meta.language,
            paths.FORMAT: meta.format,
            paths.FACILITY_TYPE: meta.facility_type,
            paths.PRACTICE_SETTING: meta.practice_setting,
        }
    if profile is MetadataProfile.MHD:
        values[paths.CREATION] = meta.creation
    if profile is MetadataProfile.DMP:  # PDSm comprehensive (dmp-rules §4.1)
        values |= {
            paths.DATE: meta.date,
            paths.AUTHOR: meta.authors,
            paths.SIZE: meta.declared_size,
            paths.HASH: meta.declared_hash,
            paths.TITLE: meta.title,
            paths.PERIOD_START: meta.period_start,
        }
        if not meta.is_patient_authored:
            values[paths.CUSTODIAN] = meta.custodian
    return [_missing(path) for path, value in values.items() if not _is_present(value)]


def check_document(meta: DocumentMetadata, profile: MetadataProfile | str) -> list[MetadataIssue]:
    """DOC-1 on one DocumentReference: required elements, codings, value sets, ASS_X16, N,
    and, when the bytes are given, their size and hash."""
    profile = MetadataProfile(profile)
    issues = _required_document(meta, profile)
    coded: list[tuple[Coding | None, DocumentPath, ValueSet]] = [
        (meta.type, DocumentPath.TYPE, terminology.type_codes()),
        (meta.category, DocumentPath.CATEGORY, terminology.class_codes()),
        (meta.format, DocumentPath.FORMAT, terminology.format_codes()),
        (meta.facility_type, DocumentPath.FACILITY_TYPE, terminology.facility_type_codes()),
        (
            meta.practice_setting,
            DocumentPath.PRACTICE_SETTING,
            terminology.practice_setting_codes(),
        ),
    ]
    for coding, path, value_set in coded:
        if coding is None:
            continue
        malformed = check_well_formed(coding, path)
        issues += malformed
        if profile is MetadataProfile.DMP and not malformed:
            issues += check_membership(coding, value_set, path)
    if profile is MetadataProfile.DMP and meta.type is not None and meta.category is not None:
        issues += check_type_class(meta.type, meta.category)
    issues += check_security_labels(meta.confidentiality, profile)
    if meta.data is not None:
        issues += check_attachment(meta.data, meta.declared_size, meta.declared_hash)
    return issues


def check_submission_set(
    meta: SubmissionSetMetadata, profile: MetadataProfile | str
) -> list[MetadataIssue]:
    """DOC-1 on the SubmissionSet: uniqueId, sourceId, designationType (JDV_J59), author, date."""
    profile = MetadataProfile(profile)
    paths = SubmissionSetPath
    values: dict[SubmissionSetPath, object] = {
        paths.UNIQUE_ID: meta.unique_id,
        paths.SOURCE_ID: meta.source_id,
        paths.DATE: meta.date,
    }
    if profile is not MetadataProfile.MHD_MINIMAL:
        values |= {paths.DESIGNATION_TYPE: meta.content_type, paths.SUBJECT: meta.subject}
    if profile is MetadataProfile.DMP:
        values[paths.AUTHOR] = meta.authors
    issues = [_missing(path) for path, value in values.items() if not _is_present(value)]
    if meta.content_type is not None:
        malformed = check_well_formed(meta.content_type, paths.DESIGNATION_TYPE)
        issues += malformed
        if profile is MetadataProfile.DMP and not malformed:
            issues += check_membership(
                meta.content_type, terminology.content_type_codes(), paths.DESIGNATION_TYPE
            )
    return issues


def attachment_hash(data: bytes) -> str:
    """FHIR R4 Attachment.hash: base64 of the SHA-1 of the bytes (DOC-2: of the plaintext)."""
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode("ascii")


def check_attachment(
    data: bytes, declared_size: int | None, declared_hash_b64: str | None
) -> list[MetadataIssue]:
    """DOC-1: a declared size or hash that does not match the bytes is refused (422)."""
    issues: list[MetadataIssue] = []
    if declared_size is not None and declared_size != len(data):
        issues.append(
            _error(
                "DMP-0207",
                f"{DocumentPath.SIZE} is {declared_size} but the document has {len(data)} bytes",
                DocumentPath.SIZE,
            )
        )
    if declared_hash_b64 is None:
        return issues
    try:
        declared = base64.b64decode(declared_hash_b64, validate=True)
    except binascii.Error:
        declared = b""
    if len(declared) != hashlib.sha1(usedforsecurity=False).digest_size:
        issues.append(
            _error(
                "DMP-0209",
                f"{DocumentPath.HASH} must be the base64 of a SHA-1 digest (28 characters), "
                "not hex",
                DocumentPath.HASH,
            )
        )
    elif declared != hashlib.sha1(data, usedforsecurity=False).digest():
        issues.append(
            _error(
                "DMP-0208",
                f"{DocumentPath.HASH} does not match the SHA-1 of the document",
                DocumentPath.HASH,
            )
        )
    return issues


def errors_of(issues: Iterable[MetadataIssue]) -> list[MetadataIssue]:
    return [issue for issue in issues if issue.is_error]


def warnings_of(issues: Iterable[MetadataIssue]) -> list[MetadataIssue]:
    return [issue for issue in issues if not issue.is_error]


def raise_for_errors(issues: Iterable[MetadataIssue]) -> list[MetadataIssue]:
    """DOC-1: any error rejects (ValidationFailed with every error); else return the warnings."""
    found = list(issues)
    errors = errors_of(found)
    if errors:
        raise ValidationFailed([issue.as_error() for issue in errors])
    return warnings_of(found)
