# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for keeping secrets out of text that may reach a result, a report or a log.

Every secret the collection holds (device password, enable secret, key passphrase, command-line
credentials, the Git token) is masked by ``Scrubber``, and so are credentials written into a URL
(``https://user:token@host``). Device sessions, host-variable errors and git output all use it,
so the rule cannot drift between them.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

MASK = "********"

# user:password@ after a URL scheme (git, requests and netmiko messages can echo a URL).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/@\s]*:[^/@\s]*@", re.IGNORECASE)


class Scrubber:
    """Masks every given secret (of any length, longest first) and URL credentials in text."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        # Values may arrive as numbers (an all-digit password in YAML): mask their text form too.
        texts = {str(secret) for secret in secrets if secret not in (None, "") and not isinstance(secret, bool)}
        self._secrets = sorted(texts, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return text with every secret replaced by ``********`` and URL credentials by ``***@``."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _URL_USERINFO.sub(r"\g<scheme>***@", text)
