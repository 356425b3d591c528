"""OpenDMP benchmark harness (issue 5): data generator, bulk loader, raw-storage baseline,
HTTP load generator and peer comparison. Entry point: `benchmarks/run`; docs/benchmarks.md."""
