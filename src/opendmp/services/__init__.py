"""Use cases: one module per IHE transaction or DMP action; each gathers facts, decides,
audits (refusals too), then acts, inside one unit of work (STYLE.md, 'Transactions')."""
