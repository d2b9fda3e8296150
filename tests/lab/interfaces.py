"""Per-platform ``show interfaces`` output with settable queue-drop counters.

Each simulated device has a few interfaces (names per platform) whose counters are
derived from the device name, so they are stable across reads, plus input and output
drop counters a test can set per interface (spec option ``queue_drops`` or the
``set_queue_drops`` control call). The text follows what the real operating systems
print closely enough for the ntc-templates parsers (``cisco_ios show interfaces``,
``cisco_nxos show interface``) and the EOS layout, so check_queues parses real-looking
output. Platforms: cisco_ios, cisco_nxos, arista_eos.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

INTERFACE_NAMES: dict[str, tuple[str, ...]] = {
    "cisco_ios": ("GigabitEthernet1", "GigabitEthernet2", "GigabitEthernet3", "GigabitEthernet4"),
    "cisco_nxos": ("mgmt0", "Ethernet1/1", "Ethernet1/2", "Ethernet1/3"),
    "arista_eos": ("Ethernet1", "Ethernet2", "Ethernet3", "Management1"),
}


def interface_names(platform: str) -> tuple[str, ...]:
    """Return the interfaces a device of platform has (empty: no 'show interfaces')."""
    return INTERFACE_NAMES.get(platform, ())


def check_drops(platform: str, drops: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Validate {interface: {input: n, output: m}} for platform; return it normalised."""
    names = interface_names(platform)
    result: dict[str, dict[str, int]] = {}
    for name, counters in (drops or {}).items():
        if name not in names:
            raise ValueError(f"unknown interface {name!r} for {platform} (known: {', '.join(names) or 'none'})")
        if not isinstance(counters, Mapping) or set(counters) - {"input", "output"}:
            raise ValueError(f"drops for {name} must be a mapping with 'input' and/or 'output'")
        values = {key: int(counters.get(key, 0)) for key in ("input", "output")}
        if any(value < 0 for value in values.values()):
            raise ValueError(f"drops for {name} must not be negative")
        result[name] = values
    return result


def _number(device: str, interface: str, salt: str, low: int, high: int) -> int:
    """A stable pseudo-random counter for one device, interface and purpose."""
    digest = hashlib.sha1(f"{device}/{interface}/{salt}".encode()).hexdigest()
    return low + int(digest[:8], 16) % (high - low)


def _mac(device: str, index: int) -> str:
    """A stable MAC address in Cisco dotted notation."""
    digest = hashlib.sha1(device.encode()).hexdigest()
    return f"5254.{digest[:4]}.{digest[4:6]}{index:02x}"


def render(platform: str, device: str, drops: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Return the 'show interfaces' lines of one device."""
    out: list[str] = []
    renderer = {"cisco_ios": _ios, "cisco_nxos": _nxos, "arista_eos": _eos}[platform]
    for index, name in enumerate(interface_names(platform), start=1):
        counters = drops.get(name, {})
        packets_in = _number(device, name, "in", 10_000, 9_000_000)
        packets_out = _number(device, name, "out", 10_000, 9_000_000)
        out += renderer(
            device,
            name,
            index,
            packets_in,
            packets_out,
            int(counters.get("input", 0)),
            int(counters.get("output", 0)),
        )
    return out


def _ios(device: str, name: str, index: int, pin: int, pout: int, din: int, dout: int) -> list[str]:
    """One IOS XE interface block."""
    mac = _mac(device, index)
    return [
        f"{name} is up, line protocol is up ",
        f"  Hardware is CSR vNIC, address is {mac} (bia {mac})",
        f"  Description: lab link {index}",
        f"  Internet address is 10.{index}.0.1/24",
        "  MTU 1500 bytes, BW 1000000 Kbit/sec, DLY 10 usec, ",
        "     reliability 255/255, txload 1/255, rxload 1/255",
        "  Encapsulation ARPA, loopback not set",
        "  Keepalive set (10 sec)",
        "  Full Duplex, 1000Mbps, link type is auto, media type is Virtual",
        "  output flow-control is unsupported, input flow-control is unsupported",
        "  ARP type: ARPA, ARP Timeout 04:00:00",
        "  Last input 00:00:01, output 00:00:01, output hang never",
        '  Last clearing of "show interface" counters never',
        f"  Input queue: 0/375/{din}/0 (size/max/drops/flushes); Total output drops: {dout}",
        "  Queueing strategy: fifo",
        "  Output queue: 0/40 (size/max)",
        "  5 minute input rate 2000 bits/sec, 2 packets/sec",
        "  5 minute output rate 1000 bits/sec, 1 packets/sec",
        f"     {pin} packets input, {pin * 92} bytes, 0 no buffer",
        "     Received 0 broadcasts (0 IP multicasts)",
        "     0 runts, 0 giants, 0 throttles ",
        "     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored",
        "     0 watchdog, 0 multicast, 0 pause input",
        f"     {pout} packets output, {pout * 88} bytes, 0 underruns",
        "     Output 0 broadcasts (0 IP multicasts)",
        "     0 output errors, 0 collisions, 1 interface resets",
        "     0 unknown protocol drops",
        "     0 babbles, 0 late collision, 0 deferred",
        "     0 lost carrier, 0 no carrier, 0 pause output",
        "     0 output buffer failures, 0 output buffers swapped out",
    ]


def _nxos(device: str, name: str, index: int, pin: int, pout: int, din: int, dout: int) -> list[str]:
    """One NX-OS interface block."""
    mac = _mac(device, index)
    return [
        f"{name} is up",
        "admin state is up, Dedicated Interface",
        f"  Hardware: 100/1000/10000 Ethernet, address: {mac} (bia {mac})",
        f"  Description: lab link {index}",
        f"  Internet Address is 10.{index}.0.2/24",
        "  MTU 1500 bytes, BW 1000000 Kbit , DLY 10 usec",
        "  reliability 255/255, txload 1/255, rxload 1/255",
        "  Encapsulation ARPA, medium is broadcast",
        "  Port mode is routed",
        "  full-duplex, 1000 Mb/s",
        "  Beacon is turned off",
        "  Auto-Negotiation is turned on  FEC mode is Auto",
        "  Input flow-control is off, output flow-control is off",
        "  Auto-mdix is turned off",
        "  Switchport monitor is off",
        "  EtherType is 0x8100",
        "  EEE (efficient-ethernet) : n/a",
        "    admin fec state is auto, oper fec state is off",
        "  Last link flapped 1week(s) 2day(s)",
        '  Last clearing of "show interface" counters never',
        "  1 interface resets",
        "  Load-Interval #1: 30 seconds",
        "    30 seconds input rate 2000 bits/sec, 2 packets/sec",
        "    30 seconds output rate 1000 bits/sec, 1 packets/sec",
        "    input rate 2.00 Kbps, 2 pps; output rate 1.00 Kbps, 1 pps",
        "  RX",
        f"    {pin} unicast packets  0 multicast packets  0 broadcast packets",
        f"    {pin} input packets  {pin * 92} bytes",
        "    0 jumbo packets  0 storm suppression bytes",
        "    0 runts  0 giants  0 CRC  0 no buffer",
        "    0 input error  0 short frame  0 overrun   0 underrun  0 ignored",
        "    0 watchdog  0 bad etype drop  0 bad proto drop  0 if down drop",
        f"    0 input with dribble  {din} input discard",
        "    0 Rx pause",
        "    0 Stomped CRC",
        "  TX",
        f"    {pout} unicast packets  0 multicast packets  0 broadcast packets",
        f"    {pout} output packets  {pout * 88} bytes",
        "    0 jumbo packets",
        "    0 output error  0 collision  0 deferred  0 late collision",
        f"    0 lost carrier  0 no carrier  0 babble  {dout} output discard",
        "    0 Tx pause",
        "",
    ]


def _eos(device: str, name: str, index: int, pin: int, pout: int, din: int, dout: int) -> list[str]:
    """One Arista EOS interface block."""
    mac = _mac(device, index)
    return [
        f"{name} is up, line protocol is up (connected)",
        f"  Hardware is Ethernet, address is {mac} (bia {mac})",
        f"  Description: lab link {index}",
        f"  Internet address is 10.{index}.0.3/24",
        "  Broadcast address is 255.255.255.255",
        "  IP MTU 1500 bytes, BW 1000000 kbit",
        "  Full-duplex, 1Gb/s, auto negotiation: off, uni-link: n/a",
        "  Up 2 days, 3 hours, 4 minutes, 5 seconds",
        "  Loopback Mode : None",
        "  2 link status changes since last clear",
        "  Last clearing of the counters never",
        "  5 minutes input rate 2.00 kbps (0.0% with framing overhead), 2 packets/sec",
        "  5 minutes output rate 1.00 kbps (0.0% with framing overhead), 1 packets/sec",
        f"     {pin} packets input, {pin * 92} bytes",
        "     Received 0 broadcasts, 0 multicast",
        "     0 runts, 0 giants",
        f"     0 input errors, 0 CRC, 0 alignment, 0 symbol, {din} input discards",
        "     0 PAUSE input",
        f"     {pout} packets output, {pout * 88} bytes",
        "     Sent 0 broadcasts, 0 multicast",
        f"     0 output errors, 0 collisions, 0 late collision, 0 deferred, {dout} output discards",
        "     0 PAUSE output",
    ]
