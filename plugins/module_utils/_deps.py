# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Private to netops.nautobot_backup: not a public API.
"""Gate the collection's optional Python libraries in one place.

Each third-party import is attempted once here. Code that needs a library calls
``require(name)``, which raises ``MissingLibraryError`` with a pip hint; modules and
plugins turn that into ``missing_required_lib`` or ``AnsibleError`` at their edge.
"""

from __future__ import annotations

import importlib
from typing import Dict, Optional

PIP_HINT = "pip install -r requirements.txt (from the netops.nautobot_backup collection)"

# Library name as users pip-install it -> importable module name.
_LIBRARIES = {
    "pydantic": "pydantic",
    "netutils": "netutils",
    "netmiko": "netmiko",
    "gitpython": "git",
    "requests": "requests",
    "ntc-templates": "ntc_templates",
}

_IMPORT_ERRORS: Dict[str, Optional[str]] = {}


class MissingLibraryError(ImportError):
    """A required Python library is not installed on the controller."""

    def __init__(self, library: str, reason: Optional[str]) -> None:
        self.library = library
        super().__init__(f"the Python library '{library}' is required but could not be imported ({reason}). {PIP_HINT}")


def import_error(library: str) -> Optional[str]:
    """Return why library cannot be imported, or None when it can."""
    if library not in _IMPORT_ERRORS:
        try:
            importlib.import_module(_LIBRARIES.get(library, library))
            _IMPORT_ERRORS[library] = None
        except ImportError as exc:
            _IMPORT_ERRORS[library] = str(exc)
    return _IMPORT_ERRORS[library]


def has_library(library: str) -> bool:
    """Tell whether library can be imported."""
    return import_error(library) is None


def require(library: str) -> None:
    """Raise MissingLibraryError unless library can be imported."""
    reason = import_error(library)
    if reason is not None:
        raise MissingLibraryError(library, reason)
