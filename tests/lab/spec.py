"""Load a lab spec (YAML) and expand it into a flat, validated device list.

A spec describes the simulated devices: shared credentials (``defaults``), the
loopback network their addresses come from (``network``), an explicit ``devices``
list and/or a ``generate`` block that produces many similar devices for demos and
benchmarks. Expanding it here, once, keeps the server, the CLI and the tests in
agreement on names, addresses and credentials.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from lab.interfaces import check_drops

PLATFORMS = ("cisco_ios", "cisco_nxos", "arista_eos", "juniper_junos", "cisco_xr")

FAULTS = (
    "auth_failure",
    "no_banner",
    "disconnect_mid_output",
    "invalid_startup",
    "slow_output",
    "empty_output",
    "truncated_output",
)

# Per-device settings a spec may give besides the identity fields; a typo should
# fail loudly instead of being ignored.
OPTION_DEFAULTS: dict[str, Any] = {
    "config_lines": 150,  # approximate size of the generated running config
    "privileged": False,  # IOS/EOS: start the session at '#' instead of '>'
    "slow_seconds": 3.0,  # slow_output: total delay spread over the output
    "page_lines": 24,  # lines per --More-- page until paging is disabled
    "queue_drops": {},  # show interfaces: {interface: {input: n, output: m}} (IOS, NX-OS, EOS)
}

IDENTITY_KEYS = ("name", "platform", "role", "site", "tenant", "tags", "faults", "username", "password", "secret")
DEFAULT_CREDENTIALS = {"username": "netops", "password": "netops", "secret": "netops"}


class SpecError(ValueError):
    """The spec file is malformed or names an unknown platform, fault or option."""


@dataclass
class DeviceSpec:
    """One simulated device, fully resolved (address, credentials, options)."""

    name: str
    platform: str
    host: str
    username: str
    password: str
    secret: str
    role: Optional[str] = None
    site: Optional[str] = None
    tenant: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(OPTION_DEFAULTS))

    def to_state(self, port: int) -> dict[str, Any]:
        """Return the lab.json entry for this device (the contract other code reads)."""
        return {
            "name": self.name,
            "platform": self.platform,
            "host": self.host,
            "port": port,
            "username": self.username,
            "password": self.password,
            "secret": self.secret,
            "faults": list(self.faults),
            "role": self.role,
            "site": self.site,
            "tenant": self.tenant,
            "tags": list(self.tags),
        }


@dataclass
class LabSpec:
    """A loaded spec: where it came from, its preferred port and its devices."""

    path: Path
    devices: list[DeviceSpec]
    port: Optional[int] = None

    def device(self, name: str) -> DeviceSpec:
        """Return the device called name (KeyError if there is none)."""
        for dev in self.devices:
            if dev.name == name:
                return dev
        raise KeyError(name)


def load_spec(path: Path | str) -> LabSpec:
    """Read and expand the YAML spec at path."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: top level must be a mapping")
    return expand_spec(raw, path)


def expand_spec(raw: dict[str, Any], path: Path | str = "<memory>") -> LabSpec:
    """Expand an already-parsed spec mapping into a LabSpec."""
    unknown = set(raw) - {"defaults", "network", "devices", "generate", "port"}
    if unknown:
        raise SpecError(f"{path}: unknown top-level keys: {sorted(unknown)}")
    defaults = dict(raw.get("defaults") or {})
    entries: list[dict[str, Any]] = [dict(d) for d in raw.get("devices") or []]
    if raw.get("generate"):
        entries.extend(_generated_entries(raw["generate"], path))
    if not entries:
        raise SpecError(f"{path}: no devices")
    addresses = _addresses(str(raw.get("network", "127.1.0.0/16")), len(entries), path)
    devices = [_device(entry, defaults, host, path) for entry, host in zip(entries, addresses, strict=True)]
    names = [d.name for d in devices]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{path}: duplicate device names: {dupes}")
    port = raw.get("port")
    return LabSpec(path=Path(path), devices=devices, port=int(port) if port is not None else None)


def _generated_entries(gen: dict[str, Any], path: Path | str) -> Iterator[dict[str, Any]]:
    """Yield device entries for a ``generate`` block (names prefix-01, prefix-02, ...)."""
    count = int(gen.get("count", 0))
    prefix = str(gen.get("prefix", "dev"))
    platforms = list(gen.get("platforms") or PLATFORMS)
    sites = list(gen.get("sites") or [None])
    roles = list(gen.get("roles") or [None])
    extra = {k: v for k, v in gen.items() if k not in {"count", "prefix", "platforms", "sites", "roles"}}
    if count < 1:
        raise SpecError(f"{path}: generate.count must be >= 1")
    for i in range(count):
        entry = dict(extra)
        entry.update(
            name=f"{prefix}-{i + 1:02d}",
            platform=platforms[i % len(platforms)],
            site=sites[i % len(sites)],
            role=roles[i % len(roles)],
        )
        if entry["role"] is None:
            entry["role"] = "router" if entry["platform"] in ("cisco_ios", "juniper_junos", "cisco_xr") else "switch"
        yield entry


def _addresses(network: str, count: int, path: Path | str) -> list[str]:
    """Return the first count host addresses of network (in order, no network/broadcast)."""
    try:
        net = ipaddress.ip_network(network)
    except ValueError as exc:
        raise SpecError(f"{path}: bad network {network!r}: {exc}") from exc
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):
        raise SpecError(f"{path}: network must be inside 127.0.0.0/8, got {network}")
    hosts: list[str] = []
    for addr in net.hosts():
        hosts.append(str(addr))
        if len(hosts) == count:
            return hosts
    raise SpecError(f"{path}: network {network} has room for {len(hosts)} devices, spec has {count}")


def _device(entry: dict[str, Any], defaults: dict[str, Any], host: str, path: Path | str) -> DeviceSpec:
    """Build one DeviceSpec from a spec entry merged over the defaults."""
    merged = {**DEFAULT_CREDENTIALS, **OPTION_DEFAULTS, **defaults, **entry}
    name = merged.get("name")
    if not name:
        raise SpecError(f"{path}: device without a name: {entry}")
    platform = merged.get("platform")
    if platform not in PLATFORMS:
        raise SpecError(f"{path}: {name}: unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    faults = list(merged.get("faults") or [])
    bad = [f for f in faults if f not in FAULTS]
    if bad:
        raise SpecError(f"{path}: {name}: unknown faults {bad} (known: {', '.join(FAULTS)})")
    unknown = set(merged) - set(IDENTITY_KEYS) - set(OPTION_DEFAULTS)
    if unknown:
        raise SpecError(f"{path}: {name}: unknown keys {sorted(unknown)}")
    try:
        merged["queue_drops"] = check_drops(str(platform), merged.get("queue_drops") or {})
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: {name}: queue_drops: {exc}") from exc
    return DeviceSpec(
        name=str(name),
        platform=str(platform),
        host=host,
        username=str(merged["username"]),
        password=str(merged["password"]),
        secret=str(merged["secret"]),
        role=merged.get("role"),
        site=merged.get("site"),
        tenant=merged.get("tenant"),
        tags=[str(t) for t in merged.get("tags") or []],
        faults=faults,
        options={k: copy.deepcopy(merged[k]) for k in OPTION_DEFAULTS},
    )
