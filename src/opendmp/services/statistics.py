"""Statistics for the operator, without personal data (SPEC.md §9)."""

from __future__ import annotations

from dataclasses import dataclass

from opendmp.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class Statistics:
    records_by_state: dict[str, int]
    documents_by_month_and_type: list[tuple[str, str, int]]  # (YYYY-MM, typeCode, count)


def statistics(ctx: ServiceContext) -> Statistics:
    """Counts only: no identifier, no name, nothing a record could be traced back from."""
    with ctx.uow() as uow:
        return Statistics(
            records_by_state=uow.records.count_by_state(),
            documents_by_month_and_type=uow.documents.count_by_month_and_type(),
        )
