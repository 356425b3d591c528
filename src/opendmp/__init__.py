"""OpenDMP: an open-source national shared personal health record (the French DMP)."""

__version__ = "0.1.0"
