"""Bulk opening of records by the operator: the opt-out model of Mon espace santé (REC-1, REC-2).

Each row is opened in its own unit of work so one bad row (invalid INS, existing record) is
reported and skipped without losing the others.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from opendmp.domain.errors import DmpError
from opendmp.domain.identifiers import OID_INS_NIR, Ins
from opendmp.domain.record import Demographics
from opendmp.services.context import Call, ServiceContext
from opendmp.services.records import OpenRecordCommand, open_record

COLUMNS = ("ins", "ins_system", "family", "given", "birth_date", "sex")


@dataclass(frozen=True, slots=True)
class ImportReport:
    opened: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, message)


def parse_rows(lines: Iterable[str]) -> Iterator[tuple[int, OpenRecordCommand | DmpError]]:
    """CSV with a header naming COLUMNS (ins_system optional, default INS-NIR)."""
    reader = csv.DictReader(lines)
    for line_number, row in enumerate(reader, start=2):
        try:
            born = row.get("birth_date") or ""
            yield (
                line_number,
                OpenRecordCommand(
                    ins=Ins(
                        (row.get("ins_system") or OID_INS_NIR).strip(),
                        (row.get("ins") or "").strip(),
                    ),
                    demographics=Demographics(
                        family=(row.get("family") or "").strip(),
                        given=(row.get("given") or "").strip(),
                        birth_date=date.fromisoformat(born) if born else None,
                        sex=(row.get("sex") or "unknown").strip(),
                    ),
                    has_consent=False,
                ),
            )
        except ValueError as error:
            yield line_number, DmpError("DMP-0100", f"unreadable row: {error}")


def import_records(ctx: ServiceContext, call: Call, lines: Iterable[str]) -> ImportReport:
    report = ImportReport()
    opened = 0
    for line_number, parsed in parse_rows(lines):
        if isinstance(parsed, DmpError):
            report.rejected.append((line_number, parsed.code, parsed.message))
            continue
        try:
            open_record(ctx, call, parsed)
        except DmpError as error:
            report.rejected.append((line_number, error.code, error.message))
        else:
            opened += 1
    return ImportReport(opened=opened, rejected=report.rejected)
