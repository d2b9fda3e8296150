"""Test-bed helpers: processes, Nautobot, Git remotes. Private to the test suite."""
