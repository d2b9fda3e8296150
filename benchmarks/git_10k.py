"""Benchmark of the Git publish step: commit and push 10,000 changed backup files (target: <= 15 s).

Builds a seeded bare remote, prepares a checkout with ``BackupRepository.prepare``, writes N
configuration files (~1.5 KB each, not timed) and times ``BackupRepository.publish``: reset the
index, stage exactly those files with one ``git update-index --add --remove -z --stdin``, commit,
push. Then it changes two lines in every file (as a real config change does) and times a second
publish (all N files modified), and a third with no change. Over ``file://`` by default; ``--http``
pushes through the test bed's authenticated HTTP server (git-http-backend, token via GIT_ASKPASS),
started and stopped by PID here. ``--playbook`` also times a publish of N changed files as one
``ansible-playbook`` task (the action plugin, N paths in ``files``).

    make bench BENCH=git_10k BENCH_ARGS="[--files 10000] [--http] [--playbook] [--json]"

It imports the collection's Git code as ``ansible_collections.netops.nautobot_backup`` and the test bed as
``testbed``, both from PYTHONPATH, which ``make bench`` sets (``tests`` and the collections path); the
playbook runs the collection of ``ANSIBLE_COLLECTIONS_PATH``.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import measure

from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_remote import GitAuth
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_repo import BackupRepository
from ansible_collections.netops.nautobot_backup.plugins.module_utils.git_runner import GitRunner
from testbed import git_http
from testbed.ansible_run import run_playbook
from testbed.git_remotes import ls_tree, seeded

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
    cpu_before = measure.own_cpu_s()
    started = time.perf_counter()
    outcome = repo.publish(files, message_vars={"timestamp": "20240501_213000", "date": "20240501"})
    elapsed = time.perf_counter() - started
    status = outcome.status
    if status.error:
        raise SystemExit(f"publish failed: {status.error}")
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(measure.own_cpu_s() - cpu_before, 2),
        "files_changed": status.files_changed,
        "pushed": status.pushed,
    }


def main() -> None:
    """Run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--http", action="store_true", help="push over the authenticated HTTP test server")
    parser.add_argument("--playbook", action="store_true", help="also time the publish through ansible-playbook")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    collections = measure.collections_path() if options.playbook else ""
    base = Path(tempfile.mkdtemp(prefix="git-10k-"))
    server = None
    rows: Dict[str, Any] = {"files": options.files, "transport": "http" if options.http else "file"}
    rows["load_before"] = measure.load()
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
            done = run_playbook(
                base / "pb.yml",
                base / "hosts.ini",
                args=["-e", f"@{base / 'vars.json'}"],
                env={"ANSIBLE_COLLECTIONS_PATH": collections},
            )
            rows["playbook_publish_s"] = round(time.perf_counter() - started, 2)
            if done.returncode != 0:
                raise SystemExit(done.stdout + done.stderr)
        if len(ls_tree(remote)) != options.files + 1:
            raise SystemExit(f"the remote holds {len(ls_tree(remote))} entries, expected {options.files + 1}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
    rows["load_after"] = measure.load()
    if options.json:
        print(json.dumps(rows, indent=2))
        return
    for key, value in rows.items():
        print(f"{key:32} {value}")
    version = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"{measure.load_line()}, {version}")


if __name__ == "__main__":
    main()
