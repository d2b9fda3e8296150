"""Lab spec expansion and CLI parsing, without starting a lab process.

These pin the parts of the lab other code depends on: device names and addresses
(Nautobot is seeded from them), validation of platforms/faults, the canonical form
of configurations and the command parser's abbreviation/caret rules.
"""

from __future__ import annotations

import pytest

from lab.commands import TABLES, CliError, match_command
from lab.configs import generate_config
from lab.lifecycle import SPECS_DIR
from lab.platforms import PLATFORMS
from lab.spec import SpecError, expand_spec, load_spec


def test_test_spec_addresses_in_order() -> None:
    """Addresses are .1, .2, ... of the network, in spec order, with defaults applied."""
    spec = load_spec(SPECS_DIR / "test.yml")
    assert [d.host for d in spec.devices[:3]] == ["127.1.0.1", "127.1.0.2", "127.1.0.3"]
    assert {d.platform for d in spec.devices} == set(PLATFORMS)
    ios = spec.device("ios-authfail")
    assert ios.faults == ["auth_failure"] and ios.password == "Lab-Pass-7f3c91" and ios.tags == []


def test_demo_spec_generates_round_robin() -> None:
    """generate: names prefix-01.., platforms and sites round-robin, fixed demo port."""
    spec = load_spec(SPECS_DIR / "demo.yml")
    assert len(spec.devices) == 20 and spec.port == 10022
    first, second = spec.devices[0], spec.devices[1]
    assert (first.name, first.platform, first.site, first.host) == ("demo-01", "cisco_ios", "BER1", "127.2.0.1")
    assert (second.name, second.platform, second.site) == ("demo-02", "cisco_nxos", "MUC1")


def test_network_skips_network_address_and_wraps_octets() -> None:
    """A /16 continues past .254 into the next third octet (no network/broadcast address)."""
    spec = expand_spec({"network": "127.9.0.0/16", "generate": {"count": 300, "prefix": "g"}})
    assert spec.devices[0].host == "127.9.0.1"
    assert spec.devices[255].host == "127.9.1.0"
    assert spec.devices[299].name == "g-300"


@pytest.mark.parametrize(
    "raw",
    [
        {"devices": [{"name": "x", "platform": "cisco_foo"}]},
        {"devices": [{"name": "x", "platform": "cisco_ios", "faults": ["melt"]}]},
        {"devices": [{"name": "x", "platform": "cisco_ios", "colour": "red"}]},
        {"devices": [{"name": "x", "platform": "cisco_ios"}, {"name": "x", "platform": "cisco_ios"}]},
        {"network": "10.0.0.0/24", "devices": [{"name": "x", "platform": "cisco_ios"}]},
        {"network": "127.0.0.0/30", "generate": {"count": 3}},
    ],
)
def test_bad_specs_are_rejected(raw: dict) -> None:
    """Unknown platforms, faults or keys, duplicates and bad networks fail loudly."""
    with pytest.raises(SpecError):
        expand_spec(raw)


def test_config_size_knob_and_determinism() -> None:
    """config_lines scales the generated config; the same device always gets the same config."""
    base = {"network": "127.9.0.0/24", "devices": [{"name": "r", "platform": "cisco_ios"}]}
    small = generate_config(expand_spec(base).devices[0])
    big_spec = {**base, "defaults": {"config_lines": 2000}}
    big = generate_config(expand_spec(big_spec).devices[0])
    assert 120 <= len(small) <= 200 and len(big) >= 1800
    assert small == generate_config(expand_spec(base).devices[0])
    assert small[-1] == "end" and any(line.startswith("enable secret 9 $9$") for line in small)


def test_command_parser_abbreviations_and_errors() -> None:
    """Unique abbreviations match; unknown tokens report their index; ambiguity is detected."""
    ios = TABLES["cisco_ios"]
    assert match_command(ios, ["sh", "run"]).command.words == ("show", "running-config")
    assert match_command(ios, ["term", "len", "0"]).args == ["0"]
    assert match_command(ios, ["wr"]).command.words == ("write",)
    with pytest.raises(CliError) as exc:
        match_command(ios, ["show", "frobnicate"])
    assert (exc.value.kind, exc.value.token_index) == ("invalid", 1)
    with pytest.raises(CliError) as exc:
        match_command(ios, ["e"])
    assert exc.value.kind == "ambiguous"
    with pytest.raises(CliError) as exc:
        match_command(ios, ["terminal", "length", "x"])
    assert (exc.value.kind, exc.value.token_index) == ("invalid", 2)
