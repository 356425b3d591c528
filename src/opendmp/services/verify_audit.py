"""`opendmp audit verify`: walk every chain and report any edited, deleted or reordered
entry (AUD-2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from opendmp.domain.audit import ChainBreak, verify_chain
from opendmp.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class VerificationReport:
    chains: int = 0
    entries: int = 0
    breaks: list[tuple[str, ChainBreak]] = field(default_factory=list)  # (chain key, break)

    @property
    def is_intact(self) -> bool:
        return not self.breaks


def verify_audit(ctx: ServiceContext) -> VerificationReport:
    chains = entries = 0
    breaks: list[tuple[str, ChainBreak]] = []
    with ctx.uow() as uow:
        for key in list(uow.audit.chains()):
            chains += 1
            chain = list(uow.audit.chain(key))
            entries += len(chain)
            breaks.extend((key, b) for b in verify_chain(chain))
            head = uow.audit.head(key)
            last = chain[-1] if chain else None
            if head is not None and (last is None or (last.sequence, last.hash) != head):
                breaks.append(
                    (
                        key,
                        ChainBreak(
                            head[0],
                            last.id if last else "",
                            "the chain does not end where its head says "
                            "(entries were deleted at the end)",
                        ),
                    )
                )
    return VerificationReport(chains, entries, breaks)
