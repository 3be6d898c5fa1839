"""Where the bundled rules, templates and migrations are.

In an installed package they sit in ``shadowbot/_bundled/``; in a source checkout they are
the top-level ``rules/``, ``templates/`` and ``migrations/`` folders next to the package.
"""

from pathlib import Path
from typing import Literal

Bundle = Literal["rules", "templates", "migrations"]

_PACKAGE = Path(__file__).resolve().parent


def bundled_path(name: Bundle) -> Path:
    installed = _PACKAGE / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name
