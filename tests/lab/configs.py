"""Generate realistic, deterministic configurations for simulated devices.

Each generator returns the *canonical* configuration of a device: the text a backup
should contain once the device's volatile header lines (timestamps, byte counts) are
removed. platforms.py wraps it with those volatile lines when a device prints it.
The content is seeded by the device name, so a device has the same configuration in
every lab run, and contains what sanitizers must handle: hashed user and enable
secrets, SNMP communities and TACACS keys. ``config_lines`` scales the size (more
interfaces) for benchmarks.
"""

from __future__ import annotations

import random
import string
from typing import Callable

from lab.spec import DeviceSpec

_B64 = string.ascii_letters + string.digits + "./"
_ASN_BASE = 65000


def _rand(rng: random.Random, alphabet: str, length: int) -> str:
    """Return length random characters from alphabet."""
    return "".join(rng.choice(alphabet) for _index in range(length))


def _type9(rng: random.Random) -> str:
    """Return a Cisco type-9 (scrypt) secret hash."""
    return f"$9${_rand(rng, _B64, 14)}${_rand(rng, _B64, 43)}"


def _sha512(rng: random.Random) -> str:
    """Return a crypt(3) SHA-512 hash as used by EOS, XR and Junos."""
    return f"$6${_rand(rng, _B64, 16)}${_rand(rng, _B64, 86)}"


def _type7(rng: random.Random) -> str:
    """Return a Cisco type-7 obfuscated key."""
    return _rand(rng, "0123456789ABCDEF", 22)


class _Plan:
    """Addresses, peers and counts shared by all platform generators for one device."""

    def __init__(self, dev: DeviceSpec, per_interface: int, fixed: int) -> None:
        self.dev = dev
        self.rng = random.Random(f"lab-config:{dev.name}")
        octets = dev.host.split(".")
        self.idx = int(octets[2]) * 256 + int(octets[3])
        self.loopback = f"10.255.{self.idx // 256}.{self.idx % 256}"
        self.mgmt = f"10.254.{self.idx // 256}.{self.idx % 256}"
        self.asn = _ASN_BASE + self.idx % 500
        wanted = int(dev.options.get("config_lines", 150))
        self.interfaces = max(2, (wanted - fixed) // per_interface)
        self.site = dev.site or "LAB1"
        self.community = _rand(self.rng, string.ascii_letters + string.digits, 12)

    def link(self, n: int) -> tuple[str, str, str]:
        """Return (local address, peer address, description) of point-to-point link n."""
        base = (self.idx * 64 + n * 2) % 65536
        third, fourth = divmod(base * 2 % 65536, 256)
        peer_name = f"{self.site.lower()}-peer-{self.rng.randint(1, 99):02d}"
        desc = self.rng.choice(["Uplink to", "Link to", "Transit", "Backbone to", "Server"])
        return (
            f"10.{self.idx % 200 + 1}.{third}.{fourth}",
            f"10.{self.idx % 200 + 1}.{third}.{fourth + 1}",
            (f"{desc} {peer_name}"),
        )


def cisco_ios(dev: DeviceSpec) -> list[str]:
    """Return the canonical IOS-XE running configuration of dev."""
    p = _Plan(dev, per_interface=6, fixed=75)
    rng = p.rng
    lines = [
        "!",
        "!",
        "version 17.9",
        "service timestamps debug datetime msec",
        "service timestamps log datetime msec",
        "service password-encryption",
        "platform qfp utilization monitor load 80",
        "!",
        f"hostname {dev.name}",
        "!",
        "boot-start-marker",
        "boot-end-marker",
        "!",
        "vrf definition Mgmt-intf",
        " !",
        " address-family ipv4",
        " exit-address-family",
        "!",
        "logging buffered 64000 informational",
        f"enable secret 9 {_type9(rng)}",
        "!",
        "aaa new-model",
        "aaa authentication login default group tacacs+ local",
        "aaa authorization exec default group tacacs+ local",
        "!",
        "aaa session-id common",
        "!",
        "ip domain name lab.example.net",
        "!",
        f"username {dev.username} privilege 15 secret 9 {_type9(rng)}",
        f"username backup privilege 15 secret 9 {_type9(rng)}",
        "!",
        "interface Loopback0",
        " description Router-ID",
        f" ip address {p.loopback} 255.255.255.255",
        "!",
        "interface GigabitEthernet0",
        " vrf forwarding Mgmt-intf",
        f" ip address {p.mgmt} 255.255.0.0",
        " negotiation auto",
        "!",
    ]
    for n in range(p.interfaces):
        local, _peer, desc = p.link(n)
        lines += [
            f"interface GigabitEthernet0/0/{n}",
            f" description {desc}",
            f" ip address {local} 255.255.255.254",
            " ip ospf network point-to-point",
            " negotiation auto" if n % 3 else " shutdown",
            "!",
        ]
    lines += ["router ospf 1", f" router-id {p.loopback}", " passive-interface Loopback0"]
    lines += [f" network {p.link(n)[0]} 0.0.0.1 area 0" for n in range(min(p.interfaces, 4))]
    lines += ["!", f"router bgp {p.asn}", f" bgp router-id {p.loopback}", " bgp log-neighbor-changes"]
    for n in range(min(p.interfaces, 2)):
        lines.append(f" neighbor {p.link(n)[1]} remote-as {_ASN_BASE + rng.randint(500, 999)}")
    lines += [
        "!",
        "ip forward-protocol nd",
        "ip ssh version 2",
        "ip route vrf Mgmt-intf 0.0.0.0 0.0.0.0 10.254.0.1",
        "!",
        "ip access-list standard SNMP-RO",
        " 10 permit 10.0.0.0 0.255.255.255",
        "!",
        f"snmp-server community {p.community} RO SNMP-RO",
        f"snmp-server location {p.site}",
        "snmp-server contact netops@example.net",
        "!",
        "tacacs server TAC1",
        " address ipv4 10.0.0.50",
        f" key 7 {_type7(rng)}",
        "!",
        "line con 0",
        " exec-timeout 15 0",
        " stopbits 1",
        "line vty 0 4",
        " exec-timeout 15 0",
        " transport input ssh",
        "!",
        "ntp server 10.0.0.1",
        "ntp server 10.0.0.2",
        "!",
        "end",
    ]
    return lines


def cisco_nxos(dev: DeviceSpec) -> list[str]:
    """Return the canonical NX-OS running configuration of dev."""
    p = _Plan(dev, per_interface=7, fixed=60)
    rng = p.rng
    lines = [
        "version 10.3(3) Bios:version  ",
        f"hostname {dev.name}",
        "vdc " + dev.name + " id 1",
        "  limit-resource vlan minimum 16 maximum 4094",
        "",
        "feature tacacs+",
        "feature ospf",
        "feature bgp",
        "feature interface-vlan",
        "feature lacp",
        "feature lldp",
        "",
        f"username admin password 5 {_sha512(rng)}  role network-admin",
        f"username {dev.username} password 5 {_sha512(rng)}  role network-admin",
        "ip domain-lookup",
        "ip domain-name lab.example.net",
        f'tacacs-server key 7 "{_type7(rng)}"',
        "tacacs-server host 10.0.0.50",
        "aaa group server tacacs+ TACACS",
        "    server 10.0.0.50",
        "    use-vrf management",
        f"snmp-server community {p.community} group network-operator",
        f"snmp-server location {p.site}",
        "ntp server 10.0.0.1 use-vrf management",
        "ntp server 10.0.0.2 use-vrf management",
        "",
        "vlan 1,10,20",
        "vlan 10",
        "  name users",
        "vlan 20",
        "  name servers",
        "",
        "vrf context management",
        "  ip route 0.0.0.0/0 10.254.0.1",
        "",
        "interface Vlan10",
        "  no shutdown",
        f"  ip address 10.10.{p.idx % 256}.1/24",
        "",
    ]
    for n in range(p.interfaces):
        local, _peer, desc = p.link(n)
        lines += [
            f"interface Ethernet1/{n + 1}",
            f"  description {desc}",
            "  no switchport",
            "  mtu 9216",
            f"  ip address {local}/31",
            "  ip router ospf 1 area 0.0.0.0",
            "  no shutdown" if n % 3 else "  shutdown",
        ]
    lines += [
        "",
        "interface mgmt0",
        "  vrf member management",
        f"  ip address {p.mgmt}/16",
        "",
        "interface loopback0",
        f"  ip address {p.loopback}/32",
        "line console",
        "line vty",
        "  exec-timeout 15",
        "router ospf 1",
        f"  router-id {p.loopback}",
        f"router bgp {p.asn}",
        f"  router-id {p.loopback}",
        f"  neighbor {p.link(0)[1]}",
        f"    remote-as {_ASN_BASE + rng.randint(500, 999)}",
        "    address-family ipv4 unicast",
    ]
    return lines


def arista_eos(dev: DeviceSpec) -> list[str]:
    """Return the canonical EOS running configuration of dev."""
    p = _Plan(dev, per_interface=6, fixed=65)
    rng = p.rng
    lines = [
        "!",
        "! boot system flash:/vEOS-lab.swi",
        "!",
        "no aaa root",
        "!",
        f"username admin privilege 15 role network-admin secret sha512 {_sha512(rng)}",
        f"username {dev.username} privilege 15 role network-admin secret sha512 {_sha512(rng)}",
        "!",
        f"enable password sha512 {_sha512(rng)}",
        "!",
        "tacacs-server host 10.0.0.50 key 7 " + _type7(rng),
        "!",
        "aaa group server tacacs+ TACACS",
        "   server 10.0.0.50",
        "!",
        "aaa authentication login default group TACACS local",
        "!",
        "service routing protocols model multi-agent",
        "!",
        f"hostname {dev.name}",
        "ip domain-name lab.example.net",
        "!",
        f"snmp-server location {p.site}",
        f"snmp-server community {p.community} ro",
        "!",
        "spanning-tree mode mstp",
        "!",
        "vlan 10",
        "   name users",
        "!",
        "vlan 20",
        "   name servers",
        "!",
    ]
    for n in range(p.interfaces):
        local, _peer, desc = p.link(n)
        lines += [
            f"interface Ethernet{n + 1}",
            f"   description {desc}",
            "   no switchport",
            f"   ip address {local}/31",
            "   shutdown" if n % 3 == 0 else "   mtu 9214",
            "!",
        ]
    lines += [
        "interface Loopback0",
        f"   ip address {p.loopback}/32",
        "!",
        "interface Management1",
        f"   ip address {p.mgmt}/16",
        "!",
        "ip routing",
        "!",
        "ip route 0.0.0.0/0 10.254.0.1",
        "!",
        "ntp server 10.0.0.1",
        "ntp server 10.0.0.2",
        "!",
        f"router bgp {p.asn}",
        f"   router-id {p.loopback}",
        f"   neighbor {p.link(0)[1]} remote-as {_ASN_BASE + rng.randint(500, 999)}",
        f"   network {p.loopback}/32",
        "!",
        "router ospf 1",
        f"   router-id {p.loopback}",
        "   max-lsa 12000",
        "!",
        "management api http-commands",
        "   no shutdown",
        "!",
        "end",
    ]
    return lines


def cisco_xr(dev: DeviceSpec) -> list[str]:
    """Return the canonical IOS XR running configuration of dev."""
    p = _Plan(dev, per_interface=5, fixed=60)
    rng = p.rng
    lines = [
        "!",
        f"hostname {dev.name}",
        "clock timezone UTC UTC",
        "logging console informational",
        "domain name lab.example.net",
        f"username {dev.username}",
        " group root-lr",
        " group cisco-support",
        f" secret 10 {_sha512(rng)}",
        "!",
        "tacacs-server host 10.0.0.50 port 49",
        f" key 7 {_type7(rng)}",
        "!",
        "aaa group server tacacs+ TACACS",
        " server 10.0.0.50",
        "!",
        "aaa authentication login default group TACACS local",
        "aaa authorization exec default group TACACS local",
        "!",
        "vrf Mgmt",
        " address-family ipv4 unicast",
        " !",
        "!",
        "line default",
        " exec-timeout 15 0",
        " transport input ssh",
        "!",
        f"snmp-server community {p.community} RO",
        f"snmp-server location {p.site}",
        "ntp",
        " server 10.0.0.1",
        " server 10.0.0.2",
        "!",
        "interface Loopback0",
        f" ipv4 address {p.loopback} 255.255.255.255",
        "!",
        "interface MgmtEth0/RP0/CPU0/0",
        " vrf Mgmt",
        f" ipv4 address {p.mgmt} 255.255.0.0",
        "!",
    ]
    for n in range(p.interfaces):
        local, _peer, desc = p.link(n)
        lines += [
            f"interface GigabitEthernet0/0/0/{n}",
            f" description {desc}",
            f" ipv4 address {local} 255.255.255.254",
            " shutdown" if n % 3 == 0 else " mtu 9212",
            "!",
        ]
    lines += [
        "router static",
        " vrf Mgmt",
        "  address-family ipv4 unicast",
        "   0.0.0.0/0 10.254.0.1",
        "  !",
        " !",
        "!",
        "router ospf 1",
        f" router-id {p.loopback}",
        " area 0",
        "  interface Loopback0",
        "   passive enable",
        "  !",
        " !",
        "!",
        f"router bgp {p.asn}",
        f" bgp router-id {p.loopback}",
        " address-family ipv4 unicast",
        " !",
        f" neighbor {p.link(0)[1]}",
        f"  remote-as {_ASN_BASE + rng.randint(500, 999)}",
        "  address-family ipv4 unicast",
        "  !",
        " !",
        "!",
        "ssh server v2",
        "ssh server vrf Mgmt",
        "end",
    ]
    return lines


def juniper_junos(dev: DeviceSpec) -> list[str]:
    """Return the canonical Junos configuration (curly-brace format) of dev."""
    p = _Plan(dev, per_interface=10, fixed=75)
    rng = p.rng
    lines = [
        "version 23.2R1.13;",
        "system {",
        f"    host-name {dev.name};",
        "    domain-name lab.example.net;",
        "    root-authentication {",
        f'        encrypted-password "{_sha512(rng)}"; ## SECRET-DATA',
        "    }",
        "    login {",
        f"        user {dev.username} {{",
        "            uid 2000;",
        "            class super-user;",
        "            authentication {",
        f'                encrypted-password "{_sha512(rng)}"; ## SECRET-DATA',
        "            }",
        "        }",
        "    }",
        "    services {",
        "        ssh {",
        "            root-login deny;",
        "        }",
        "        netconf {",
        "            ssh;",
        "        }",
        "    }",
        "    tacplus-server {",
        "        10.0.0.50 {",
        f'            secret "$9${_rand(rng, _B64, 24)}"; ## SECRET-DATA',
        "        }",
        "    }",
        "    syslog {",
        "        file messages {",
        "            any notice;",
        "        }",
        "    }",
        "    ntp {",
        "        server 10.0.0.1;",
        "        server 10.0.0.2;",
        "    }",
        "}",
        "snmp {",
        f'    location "{p.site}";',
        f"    community {p.community} {{",
        "        authorization read-only;",
        "    }",
        "}",
        "interfaces {",
    ]
    for n in range(p.interfaces):
        local, _peer, desc = p.link(n)
        lines += [
            f"    ge-0/0/{n} {{",
            f'        description "{desc}";',
            *(["        disable;"] if n % 3 == 0 else []),
            "        unit 0 {",
            "            family inet {",
            f"                address {local}/31;",
            "            }",
            "        }",
            "    }",
        ]
    lines += [
        "    fxp0 {",
        "        unit 0 {",
        "            family inet {",
        f"                address {p.mgmt}/16;",
        "            }",
        "        }",
        "    }",
        "    lo0 {",
        "        unit 0 {",
        "            family inet {",
        f"                address {p.loopback}/32;",
        "            }",
        "        }",
        "    }",
        "}",
        "routing-options {",
        f"    router-id {p.loopback};",
        f"    autonomous-system {p.asn};",
        "    static {",
        "        route 0.0.0.0/0 next-hop 10.254.0.1;",
        "    }",
        "}",
        "protocols {",
        "    ospf {",
        "        area 0.0.0.0 {",
        "            interface lo0.0 {",
        "                passive;",
        "            }",
        "        }",
        "    }",
        "    bgp {",
        "        group TRANSIT {",
        "            type external;",
        f"            neighbor {p.link(0)[1]} {{",
        f"                peer-as {_ASN_BASE + rng.randint(500, 999)};",
        "            }",
        "        }",
        "    }",
        "    lldp {",
        "        interface all;",
        "    }",
        "}",
    ]
    return lines


GENERATORS: dict[str, Callable[[DeviceSpec], list[str]]] = {
    "cisco_ios": cisco_ios,
    "cisco_nxos": cisco_nxos,
    "arista_eos": arista_eos,
    "cisco_xr": cisco_xr,
    "juniper_junos": juniper_junos,
}


def generate_config(dev: DeviceSpec) -> list[str]:
    """Return the canonical configuration lines of dev for its platform."""
    return GENERATORS[dev.platform](dev)
