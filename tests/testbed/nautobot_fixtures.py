"""pytest plugin: the real Nautobot test bed.

Fixtures:

``nautobot`` (session)
    Brings instance ``test`` up (install, PostgreSQL, Redis, base dump, uWSGI server),
    seeds it from the device lab's ``lab.devices`` and yields a :class:`NautobotBed`
    (``url``, ``admin_token``, ``readonly_token``, ``graphql()``, ``request()``,
    ``api()``, ``reset()``, ``devices``, ``expected``). Whatever it started is stopped
    by PID at the end of the session, also when tests or the set-up fail.
``nautobot_clean`` (function)
    ``reset()`` to the seeded state before the test; yields the same object.

Environment: NB_BACKUP_NAUTOBOT_INSTANCE (default ``test``); NB_BACKUP_NAUTOBOT_DEVICES
(a lab.json or lab spec) seeds from that file instead of asking the ``lab`` fixture.
Without a ``lab`` fixture the device list comes from ``tests/lab/specs/test.yml``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

import pytest
import requests

from testbed.nautobot_bed import NautobotInstance, Started
from testbed.nautobot_seed import expected_devices, load_devices

LOG = logging.getLogger(__name__)
SPEC = Path(__file__).resolve().parents[1] / "lab" / "specs" / "test.yml"


class GraphQLError(AssertionError):
    """A GraphQL request returned errors or a non-200 status."""


@dataclass
class NautobotBed:
    """A running, seeded Nautobot instance as seen by the tests (tokens are kept out of repr)."""

    instance: NautobotInstance
    url: str
    devices: List[Dict[str, Any]]
    admin_token: str = field(repr=False)
    readonly_token: str = field(repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def expected(self) -> List[Dict[str, Any]]:
        """What the seed stored per device (names of related objects, serial, asset tag, net, ...)."""
        return expected_devices(self.devices)

    def request(self, method: str, path: str, token: Optional[str] = None, **kwargs: Any) -> requests.Response:
        """Call ``<url>/<path>`` with ``Token <token>`` (admin by default; pass token="" for none)."""
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        token = self.admin_token if token is None else token
        if token:
            headers["Authorization"] = f"Token {token}"
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, f"{self.url}/{path.lstrip('/')}", headers=headers, **kwargs)

    def graphql_response(
        self, query: str, variables: Optional[Mapping[str, Any]] = None, token: Optional[str] = None
    ) -> requests.Response:
        """POST a GraphQL query and return the raw response."""
        payload: Dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = dict(variables)
        return self.request("POST", "/api/graphql/", token=token, json=payload)

    def graphql(
        self, query: str, variables: Optional[Mapping[str, Any]] = None, token: Optional[str] = None
    ) -> Dict[str, Any]:
        """Run a GraphQL query (admin token by default) and return its ``data``; raise GraphQLError on errors."""
        resp = self.graphql_response(query, variables, token)
        if resp.status_code != 200:
            raise GraphQLError(f"GraphQL HTTP {resp.status_code}: {resp.text[:2000]}")
        body = resp.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return dict(body["data"])

    def api(self, token: Optional[str] = None) -> Any:
        """Return a pynautobot client (admin token by default)."""
        import pynautobot  # pylint: disable=import-outside-toplevel

        return pynautobot.api(self.url, token=self.admin_token if token is None else token)

    def reset(self) -> float:
        """Restore the seeded state (about a second); return the seconds taken."""
        return self.instance.reset()


def _as_dict(device: Any) -> Dict[str, Any]:
    if isinstance(device, Mapping):
        return dict(device)
    if dataclasses.is_dataclass(device) and not isinstance(device, type):
        return dataclasses.asdict(device)
    return dict(vars(device))


def _device_list(request: pytest.FixtureRequest) -> List[Dict[str, Any]]:
    """Devices from NB_BACKUP_NAUTOBOT_DEVICES, else the lab fixture, else the test spec."""
    override = os.environ.get("NB_BACKUP_NAUTOBOT_DEVICES")
    if override:
        return load_devices(Path(override))
    try:
        lab = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        LOG.warning("no `lab` fixture; seeding Nautobot from %s", SPEC)
        return load_devices(SPEC)
    return [_as_dict(dev) for dev in lab.devices]


@pytest.fixture(scope="session")
def nautobot(request: pytest.FixtureRequest) -> Iterator[NautobotBed]:
    """A running Nautobot (instance ``test``) seeded from the lab's devices; stopped at session end."""
    devices = _device_list(request)
    instance = NautobotInstance(os.environ.get("NB_BACKUP_NAUTOBOT_INSTANCE", "test"))
    started = Started()
    try:
        instance.up(started=started)
        instance.seed(devices)
        creds = instance.credentials()
        bed = NautobotBed(
            instance=instance,
            url=instance.url,
            devices=devices,
            admin_token=creds["admin"]["token"],
            readonly_token=creds["readonly"]["token"],
        )
        yield bed
        bed.session.close()
    finally:
        instance.down(started=started)


@pytest.fixture
def nautobot_clean(nautobot: NautobotBed) -> Iterator[NautobotBed]:
    """The session Nautobot, reset to its freshly seeded state before the test and after it.

    Resetting after too keeps a test that writes (last_backup values, say) from changing
    what later tests using the plain session fixture see.
    """
    nautobot.reset()
    try:
        yield nautobot
    finally:
        nautobot.reset()
