"""SSH device lab: many simulated network devices in one asyncssh process.

Each device listens on its own loopback address (127.x.y.z) on one shared port and
behaves like cisco_ios, cisco_nxos, arista_eos, juniper_junos or cisco_xr closely
enough for netmiko's own drivers. See README.md for the spec format, the CLI, the
faults and the control API. Importing the package is cheap; the server (asyncssh)
is only imported by the lab process.
"""
