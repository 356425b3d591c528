"""Code tables (JSON) read at run time through `importlib.resources` (see PROVENANCE.md)."""
