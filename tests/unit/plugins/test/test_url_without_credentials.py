"""Tests of plugins/test/url_without_credentials.py: the roles' URL check is the Git step's own rule."""

from __future__ import annotations

import pytest

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import check_url
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import GitInputError
from ansible_collections.netops.nautobot_backup.plugins.test import url_without_credentials as plugin
from ansible_collections.netops.nautobot_backup.plugins.test.url_without_credentials import url_without_credentials

URLS = [
    ("https://user:tok@git.example.com/x.git", False),
    ("https://tok@git.example.com/x.git", False),
    ("ssh://git:pw@git.example.com/x.git", False),
    ("  http://a:b@127.0.0.1:8080/x.git ", False),
    ("https://git.example.com/x.git", True),
    ("ssh://git@git.example.com/x.git", True),
    ("git@git.example.com:x.git", True),
    ("file:///srv/git/x.git", True),
    ("", True),
]


@pytest.mark.parametrize(("url", "clean"), URLS)
def test_same_rule_as_the_git_step(url: str, clean: bool) -> None:
    assert url_without_credentials(url) is clean
    if not url.strip():
        return
    if clean:
        assert check_url(url) == url.strip()
    else:
        with pytest.raises(GitInputError, match="contains credentials"):
            check_url(url)


def test_registered_name() -> None:
    # The class is reached through the module: pytest would collect a Test* class imported here.
    assert plugin.TestModule().tests()["url_without_credentials"] is url_without_credentials
