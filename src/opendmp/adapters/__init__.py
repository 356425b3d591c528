"""Adapters: SQL storage, blob stores, envelope encryption, mail (the ports of services)."""
