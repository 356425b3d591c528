"""Search parameters → typed queries: ITI-67 DocumentReference, ITI-66 List, AuditEvent (API.md
§13, MHD 4.2 §2:3.66-67, FHIR R4 search).

Choices: values of one parameter separated by commas are OR-ed; a token parameter repeated
with different values (an AND no single-valued element can meet) is a 400; `date`/`period`
take the prefixes eq, ge, gt, le, lt, and a date without time zone is UTC. Unknown parameters
are ignored and left out of the `self` link, or a 400 with `Prefer: handling=strict`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from opendmp.domain.documents import DocumentStatus, Label, SubmissionSet
from opendmp.fhir.datatypes import RPPS_SYSTEM, unique_id_from
from opendmp.fhir.references import PatientRef, ReferenceKind, ins_of, parse_reference
from opendmp.fhir.validation import Issues
from opendmp.services.ports import AuditQuery, DocumentQuery, SortOrder

DEFAULT_COUNT = 50
MAX_COUNT = 200  # SEC-3, API.md §13
_IGNORED = frozenset({"_format", "_pretty", "_summary", "_total"})
_PREFIXES = ("eq", "ge", "gt", "le", "lt")
_DATE = re.compile(
    r"(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)

Params = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


def _precision_range(value: str) -> tuple[datetime, datetime] | None:
    """The instants a FHIR date/dateTime value covers at its precision (FHIR R4 §3.1.1.5.7)."""
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year = int(match["y"])
    if match["m"] is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    month = int(match["m"])
    if not 1 <= month <= 12:
        return None
    if match["d"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        return start, start + timedelta(days=days)
    try:
        start = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    if match["time"] is None:
        return start, start + timedelta(days=1)
    step = timedelta(minutes=1) if len(match["time"]) == 5 else timedelta(seconds=1)
    return start, start + step


def parse_date_range(values: Sequence[str], name: str, issues: Issues) -> DateRange:
    """Each value narrows [start, end): eq both bounds, ge/gt the start, le/lt the end."""
    start: datetime | None = None
    end: datetime | None = None
    for raw in values:
        prefix = raw[:2] if raw[:2].isalpha() else "eq"
        value = raw[2:] if raw[:2].isalpha() else raw
        bounds = _precision_range(value) if prefix in _PREFIXES else None
        if bounds is None:
            issues.invalid(
                "DMP-0621",
                f"{name}={raw}: expected [eq|ge|gt|le|lt]YYYY[-MM[-DD[Thh:mm[:ss][zone]]]]",
                name,
            )
            continue
        low, high = bounds
        new_start = {"eq": low, "ge": low, "gt": high}.get(prefix)
        new_end = {"eq": high, "le": high, "lt": low}.get(prefix)
        if new_start is not None:
            start = new_start if start is None else max(start, new_start)
        if new_end is not None:
            end = new_end if end is None else min(end, new_end)
    return DateRange(start, end)


class _Reader:
    """Groups the parameters by name and reports unknown ones (API.md §13)."""

    def __init__(self, params: Params, known: frozenset[str], *, strict: bool) -> None:
        self.issues = Issues()
        self.values: dict[str, list[str]] = {}
        self.kept: Params = []
        unknown = []
        for name, value in params:
            if name in known:
                self.values.setdefault(name, []).append(value)
                self.kept.append((name, value))
            elif name not in _IGNORED:
                unknown.append(name)
        if strict and unknown:
            self.issues.invalid(
                "DMP-0622",
                f"unknown search parameters {', '.join(sorted(set(unknown)))} "
                "(Prefer: handling=strict)",
                unknown[0],
            )

    def tokens(self, name: str) -> list[str]:
        """The comma-separated values of a token parameter (one occurrence, OR-ed)."""
        occurrences = {v for v in self.values.get(name, []) if v}
        if len(occurrences) > 1:
            self.issues.invalid(
                "DMP-0621",
                f"{name} is repeated with different values; give them comma-separated",
                name,
            )
            return []
        return [t for t in next(iter(occurrences), "").split(",") if t] if occurrences else []

    def codes(self, name: str) -> frozenset[str]:
        return frozenset(t.rpartition("|")[2] for t in self.tokens(name))

    def integer(self, name: str, default: int) -> int:
        values = self.values.get(name)
        if not values:
            return default
        if not values[-1].isdigit():
            self.issues.invalid("DMP-0621", f"{name} must be a non-negative integer", name)
            return default
        return int(values[-1])

    def dates(self, name: str) -> DateRange:
        return parse_date_range(self.values.get(name, []), name, self.issues)


def _patient(reader: _Reader, base_url: str, *, any_system: bool, required: bool) -> PatientRef:
    """`patient` (Patient/<id>, <id>, this server's URL) and/or `patient.identifier` (INS)."""
    record_id = None
    ins = None
    for value in reader.tokens("patient"):
        parsed = parse_reference(value, base_url)
        if parsed.kind is ReferenceKind.LOCAL and parsed.resource_type == "Patient":
            record_id = parsed.id
        elif "/" not in value and "|" not in value:
            record_id = value
        else:
            reader.issues.invalid("DMP-0620", "patient must be Patient/<id>", "patient")
    for value in reader.tokens("patient.identifier"):
        system, _, code = value.rpartition("|")
        ins = ins_of(system, code, any_system=any_system)
        if ins is None:
            reader.issues.invalid(
                "DMP-0620", "patient.identifier must be <INS system>|<INS>", "patient.identifier"
            )
    given = reader.values.get("patient") or reader.values.get("patient.identifier")
    if required and not given:
        reader.issues.invalid(
            "DMP-0620", "patient or patient.identifier is required (API.md §13)", "patient"
        )
    return PatientRef(record_id=record_id, ins=ins)


def _count(reader: _Reader, max_count: int) -> int:
    return min(reader.integer("_count", DEFAULT_COUNT), max_count)


def _self_params(reader: _Reader, count: int) -> Params:
    return [(k, str(count) if k == "_count" else v) for k, v in reader.kept]


_DOCUMENT_PARAMS = frozenset(
    {
        "patient",
        "patient.identifier",
        "status",
        "type",
        "category",
        "date",
        "creation",
        "period",
        "author.identifier",
        "facility",
        "setting",
        "event",
        "security-label",
        "identifier",
        "_count",
        "_offset",
        "_sort",
    }
)


def parse_document_search(
    params: Params,
    *,
    strict: bool,
    max_count: int = MAX_COUNT,
    base_url: str = "",
    any_system: bool = False,
) -> tuple[PatientRef, DocumentQuery, Params]:
    """ITI-67 → (patient, query, the parameters to echo in the `self` link)."""
    reader = _Reader(params, _DOCUMENT_PARAMS, strict=strict)
    patient = _patient(reader, base_url, any_system=any_system, required=True)
    statuses = _statuses(reader)
    date = parse_date_range(
        reader.values.get("date", []) + reader.values.get("creation", []), "date", reader.issues
    )
    period = reader.dates("period")
    sort = _sort(reader, strict=strict)
    count = _count(reader, max_count)
    query = DocumentQuery(
        statuses=statuses,
        unique_ids=frozenset(_unique_id(t) for t in reader.tokens("identifier")),
        type_codes=reader.codes("type"),
        category_codes=reader.codes("category"),
        date_from=date.start,
        date_to=date.end,
        period_from=period.start,
        period_to=period.end,
        author_ids=frozenset(_author_id(t) for t in reader.tokens("author.identifier")),
        facility_codes=reader.codes("facility"),
        setting_codes=reader.codes("setting"),
        event_codes=reader.codes("event"),
        security_labels=_labels(reader),
        sort=sort or SortOrder.DATE_DESC,
        count=count,
        offset=reader.integer("_offset", 0),
    )
    reader.issues.raise_if_any()
    kept = [(k, v) for k, v in _self_params(reader, count) if k != "_sort" or sort is not None]
    return patient, query, kept


def _statuses(reader: _Reader) -> frozenset[DocumentStatus]:
    """DOC-5: current only unless `status` asks for superseded or entered-in-error."""
    values = reader.codes("status")
    try:
        chosen = frozenset(DocumentStatus(v) for v in values)
    except ValueError:
        reader.issues.invalid(
            "DMP-0621", "status is current, superseded or entered-in-error", "status"
        )
        return frozenset({DocumentStatus.CURRENT})
    return chosen or frozenset({DocumentStatus.CURRENT})


def _labels(reader: _Reader) -> frozenset[Label]:
    """security-label: the TRE_A07 flags (N is on every document, so it filters nothing)."""
    labels: set[Label] = set()
    for code in reader.codes("security-label"):
        if code == "N":
            continue
        if code not in Label.__members__:
            reader.issues.invalid(
                "DMP-0621",
                f"security-label {code!r}: MASQUE_PS, INVISIBLE_PATIENT, "
                "INVISIBLE_REPRESENTANTS_LEGAUX or N",
                "security-label",
            )
            continue
        labels.add(Label(code))
    return frozenset(labels)


def _sort(reader: _Reader, *, strict: bool) -> SortOrder | None:
    values = reader.values.get("_sort")
    if not values:
        return None
    try:
        return SortOrder(values[-1])
    except ValueError:
        if strict:
            reader.issues.invalid("DMP-0621", "_sort is date or -date", "_sort")
        return None


def _unique_id(token: str) -> str:
    system, sep, value = token.partition("|")
    return unique_id_from({"system": system, "value": value} if sep else {"value": token})


def _author_id(token: str) -> str:
    system, sep, value = token.partition("|")
    if not sep:
        return token
    return "8" + value if system == RPPS_SYSTEM else value


# --- ITI-66 -------------------------------------------------------------------------------

_LIST_PARAMS = frozenset(
    {
        "patient",
        "patient.identifier",
        "code",
        "status",
        "date",
        "designationType",
        "sourceId",
        "identifier",
        "_count",
        "_offset",
    }
)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """ITI-66 filters, applied by the caller to the record's submission sets."""

    is_folder_search: bool = False  # Folders are not kept: such a search finds nothing
    date: DateRange = field(default_factory=DateRange)
    designation_codes: frozenset[str] = frozenset()
    source_ids: frozenset[str] = frozenset()
    unique_ids: frozenset[str] = frozenset()
    count: int = DEFAULT_COUNT
    offset: int = 0

    def matches(self, ss: SubmissionSet) -> bool:
        if self.is_folder_search:
            return False
        if self.date.start is not None and ss.date < self.date.start:
            return False
        if self.date.end is not None and ss.date >= self.date.end:
            return False
        if self.designation_codes and ss.content_type.code not in self.designation_codes:
            return False
        if self.source_ids and ss.source_id not in self.source_ids:
            return False
        return not self.unique_ids or ss.unique_id in self.unique_ids

    def page(self, sets: Sequence[SubmissionSet]) -> tuple[list[SubmissionSet], int]:
        """The matching sets, newest first, this page of them, and how many match."""
        found = sorted((s for s in sets if self.matches(s)), key=lambda s: s.date, reverse=True)
        return found[self.offset : self.offset + self.count], len(found)


def parse_list_search(
    params: Params,
    *,
    strict: bool,
    max_count: int = MAX_COUNT,
    base_url: str = "",
    any_system: bool = False,
) -> tuple[PatientRef, ListQuery, Params]:
    """ITI-66 Find Document Lists → (patient, query, self-link parameters)."""
    reader = _Reader(params, _LIST_PARAMS, strict=strict)
    patient = _patient(reader, base_url, any_system=any_system, required=True)
    codes = reader.codes("code")
    unknown_codes = codes - {"submissionset", "folder"}
    if unknown_codes:
        reader.issues.invalid("DMP-0621", "code is submissionset or folder", "code")
    statuses = reader.codes("status")
    count = _count(reader, max_count)
    query = ListQuery(
        is_folder_search=codes == {"folder"} or bool(statuses - {"current"}),
        date=reader.dates("date"),
        designation_codes=reader.codes("designationType"),
        source_ids=frozenset(
            t.rpartition("|")[2].removeprefix("urn:oid:") for t in reader.tokens("sourceId")
        ),
        unique_ids=frozenset(_unique_id(t) for t in reader.tokens("identifier")),
        count=count,
        offset=reader.integer("_offset", 0),
    )
    reader.issues.raise_if_any()
    return patient, query, _self_params(reader, count)


# --- AuditEvent ---------------------------------------------------------------------------

_AUDIT_PARAMS = frozenset(
    {
        "patient",
        "patient.identifier",
        "date",
        "agent",
        "agent.identifier",
        "_sort",
        "_count",
        "_offset",
    }
)


def parse_audit_search(
    params: Params,
    *,
    strict: bool,
    max_count: int = MAX_COUNT,
    base_url: str = "",
    any_system: bool = False,
) -> tuple[PatientRef, AuditQuery, Params]:
    """`GET AuditEvent?patient=…&date=…&agent=…&_sort=-date` → (patient, query, self params)."""
    reader = _Reader(params, _AUDIT_PARAMS, strict=strict)
    patient = _patient(reader, base_url, any_system=any_system, required=True)
    agent = None
    for value in reader.tokens("agent"):
        parsed = parse_reference(value, base_url)
        agent = parsed.id if parsed.kind is ReferenceKind.LOCAL else value
    for value in reader.tokens("agent.identifier"):
        agent = _author_id(value)
    date = reader.dates("date")
    sort = _sort(reader, strict=strict)
    count = _count(reader, max_count)
    query = AuditQuery(
        actor_id=agent,
        date_from=date.start,
        date_to=date.end,
        newest_first=sort is not SortOrder.DATE_ASC,
        count=count,
        offset=reader.integer("_offset", 0),
    )
    reader.issues.raise_if_any()
    kept = [(k, v) for k, v in _self_params(reader, count) if k != "_sort" or sort is not None]
    return patient, query, kept


def page_links(
    base_url: str, resource_type: str, params: Params, *, offset: int, count: int, total: int
) -> tuple[str, str | None]:
    """The `self` and `next` URLs of a searchset page (paging by `_offset`)."""
    base = f"{base_url.rstrip('/')}/{resource_type}"
    kept = [(k, v) for k, v in params if k != "_offset"]
    current = [*kept, ("_offset", str(offset))] if offset else kept
    self_url = f"{base}?{urlencode(current)}" if current else base
    if count <= 0 or offset + count >= total:
        return self_url, None
    return self_url, f"{base}?{urlencode([*kept, ('_offset', str(offset + count))])}"
