"""Benchmark of the Git publish step: commit and push 10,000 changed backup files (MISSION target: <= 15 s).

Builds a seeded bare remote, prepares a checkout with ``BackupRepository.prepare``, writes N
configuration files (~1.5 KB each, not timed) and times ``BackupRepository.publish``: reset the
index, stage exactly those files with one ``git update-index --add --remove -z --stdin``, commit,
push. Then it changes two lines in every file (as a real config change does) and times a second
publish (all N files modified), and a third with no change. Over ``file://`` by default; ``--http``
pushes through the test bed's authenticated HTTP server (git-http-backend, token via GIT_ASKPASS),
started and stopped by PID here. ``--playbook`` also times a publish of N changed files as one
``ansible-playbook`` task (the action plugin, N paths in ``files``).

    .venv/bin/python benchmarks/git_10k.py [--files 10000] [--http] [--playbook] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / ".build" / "collections")]

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import (  # noqa: E402
    BackupRepository,
    GitAuth,
    GitRunner,
)
from testbed import git_http  # noqa: E402
from testbed.ansible_run import run_playbook  # noqa: E402
from testbed.git_remotes import ls_tree, seeded  # noqa: E402

PLAYBOOK = """
- name: Publish the benchmark files
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Commit and push
      netops.nautobot_backup.git_commit_push:
        mode: publish
        repo_dir: "{{ repo_dir }}"
        repo_url: "{{ repo_url }}"
        files: "{{ files }}"
"""


def config_text(index: int, generation: int) -> str:
    """A plausible ~2.5 KB configuration: stable per device, with two lines that change every generation."""
    rng = random.Random(index)
    lines = [f"hostname dev{index:05d}", f"! generation {generation}"]
    for port in range(40):
        lines.append(f"interface GigabitEthernet0/{port}\n description link-{rng.getrandbits(32):08x}")
    lines.append(f"ntp server 10.0.{generation % 256}.1")
    return "\n".join(lines) + "\nend\n"


def write_files(root: Path, count: int, generation: int) -> List[str]:
    """Write count files spread over 100 site directories; return their relative paths."""
    names = []
    for index in range(count):
        name = f"site{index % 100:03d}/dev{index:05d}.running-config"
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_text(index, generation), encoding="utf-8")
        names.append(name)
    return names


def timed_publish(repo: BackupRepository, files: List[str]) -> Dict[str, Any]:
    """Publish files and return the outcome with its wall time."""
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    outcome = repo.publish(files, message_vars={"timestamp": "20240501_213000", "date": "20240501"})
    elapsed = time.perf_counter() - started
    status = outcome.status
    if status.error:
        raise SystemExit(f"publish failed: {status.error}")
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(_cpu_seconds() - cpu_before, 2),
        "files_changed": status.files_changed,
        "pushed": status.pushed,
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the git commands), load-independent."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    """Run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--http", action="store_true", help="push over the authenticated HTTP test server")
    parser.add_argument("--playbook", action="store_true", help="also time the publish through ansible-playbook")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="git-10k-"))
    server = None
    rows: Dict[str, Any] = {"files": options.files, "transport": "http" if options.http else "file"}
    try:
        remote = seeded(base / "remotes" / "configs.git")
        url = remote.url
        token = None
        username = "backup-bot"
        if options.http:
            token = secrets.token_urlsafe(24)
            server = git_http.start_server(
                base / "remotes", username, token, pidfile=base / "http.pid", logfile=base / "http.log"
            )
            url = server.url_for(remote.path)
        with GitAuth(username=username, token=token).environment() as env:
            repo = BackupRepository(GitRunner(env, secrets=[token]), base / "checkout", url)
            started = time.perf_counter()
            repo.prepare()
            rows["prepare_clone_s"] = round(time.perf_counter() - started, 2)
            files = write_files(repo.path, options.files, generation=1)
            rows["first_publish"] = timed_publish(repo, files)
            write_files(repo.path, options.files, generation=2)
            rows["second_publish_all_modified"] = timed_publish(repo, files)
            rows["third_publish_unchanged"] = timed_publish(repo, files)
            started = time.perf_counter()
            repo.prepare()
            rows["prepare_sync_s"] = round(time.perf_counter() - started, 2)
        if options.playbook and not options.http:
            write_files(repo.path, options.files, generation=3)
            (base / "pb.yml").write_text(PLAYBOOK, encoding="utf-8")
            (base / "hosts.ini").write_text("localhost ansible_connection=local\n", encoding="utf-8")
            (base / "vars.json").write_text(
                json.dumps({"repo_dir": str(repo.path), "repo_url": url, "files": files}), encoding="utf-8"
            )
            started = time.perf_counter()
            done = run_playbook(base / "pb.yml", base / "hosts.ini", args=["-e", f"@{base / 'vars.json'}"])
            rows["playbook_publish_s"] = round(time.perf_counter() - started, 2)
            if done.returncode != 0:
                raise SystemExit(done.stdout + done.stderr)
        assert len(ls_tree(remote)) == options.files + 1  # nosec B101 - a benchmark sanity check
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    if options.json:
        print(json.dumps(rows, indent=2))
        return
    for key, value in rows.items():
        print(f"{key:32} {value}")
    version = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}, {version}")


if __name__ == "__main__":
    main()
