# Copyright: netops.nautobot_backup contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test plugin: is a repository URL free of credentials (the Git step's own rule, module_utils/git_remote.py)?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: url_without_credentials
short_description: Tell whether a repository URL carries no credentials
version_added: 0.1.0
description:
  - True when the URL holds no password, and an HTTP(S) or FTP(S) URL no user name either (C(https://user:token@host),
    C(https://token@host) and C(ssh://git:password@host) are refused; C(ssh://git@host), C(git@host:path) and
    C(file://) URLs are fine).
  - The same rule as the C(repo_url) check of M(netops.nautobot_backup.git_commit_push); the roles test their URL
    with it before anything is stored in a fact, cloned or contacted.
options:
  _input:
    description: The repository URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check that the repository URL carries no credentials
  ansible.builtin.assert:
    that:
      - backup_repo_url is netops.nautobot_backup.url_without_credentials
    fail_msg: "backup_repo_url must not contain credentials: give the token in backup_repo_token instead"
"""

RETURN = r"""
_value:
  description: Whether the URL carries no credentials.
  type: bool
"""

from typing import Any, Callable, Dict

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import carries_credentials


def url_without_credentials(url: Any) -> bool:
    """True when url holds no credentials (git_remote.carries_credentials is the rule)."""
    return not carries_credentials(str(url or ""))


class TestModule:
    """The collection's tests."""

    def tests(self) -> Dict[str, Callable[[Any], bool]]:
        """Map test names to functions."""
        return {"url_without_credentials": url_without_credentials}
