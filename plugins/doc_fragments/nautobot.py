# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation for the Nautobot connection options (url, token, validate_certs, timeout)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """Mirrored by plugin_utils.argspecs.NAUTOBOT_SPEC (tests/unit/plugins/modules/test_argspec_docs.py)."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Nautobot server, for example C(https://nautobot.example.com).
      - If not set, the value of the E(NAUTOBOT_URL) environment variable is used.
    type: str
    required: true
  token:
    description:
      - Nautobot API token.
      - If not set, the value of the E(NAUTOBOT_TOKEN) environment variable is used.
      - Never logged and never returned.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the Nautobot server.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each Nautobot API request.
    type: int
    default: 30
"""
