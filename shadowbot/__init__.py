"""shadowbot: judge automatic-merge rules in shadow mode, without ever merging."""

__version__ = "0.1.0"
