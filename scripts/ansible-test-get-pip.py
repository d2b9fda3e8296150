"""Offline stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test creates an empty virtualenv per sanity test and runs a get-pip script,
downloaded from a host this project cannot reach, with pip-install arguments such as
``pip==24.2``. This stand-in does the same with the standard library's ensurepip and
PyPI: it installs the bundled pip, then runs ``pip install`` with the given arguments.
ansible-test hides pip's configuration files, so the bundled pip is pointed at the
system's CA file (newer pips use the system trust store by themselves).
"""

import ensurepip
import os
import ssl
import subprocess
import sys


def main() -> int:
    """Install pip into the running interpreter's environment, then the requested packages."""
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    paths = ssl.get_default_verify_paths()
    cafile = paths.cafile or paths.openssl_cafile
    if cafile and os.path.exists(cafile):
        args = ["--cert", cafile, *args]
    return subprocess.call([sys.executable, "-m", "pip", "install", *args])


if __name__ == "__main__":
    sys.exit(main())
