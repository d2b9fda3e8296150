"""What users read names no document they do not have: no "seed" (the prototype) and no "MISSION" (its brief).

Code and docs say what the collection does and why, not what it replaced. Seeding a test database ("seeded",
"seeding", nautobot_bulk_seed) is a different word and allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["plugins", "roles", "playbooks", "docs", "changelogs", "meta", "awx", "README.md", "galaxy.yml"]
TEXT_SUFFIXES = {".py", ".yml", ".yaml", ".md", ".rst", ".txt", ".j2", ".cfg", ".json"}
# \b keeps "seeded", "seeding", "bulk_seed" and "permission" out; "seed's" and "seeds" are in.
FORBIDDEN = re.compile(r"\bseed'?s?\b|\bMISSION\b", re.IGNORECASE)


def scanned_files() -> List[Path]:
    files = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        files.extend(
            p for p in candidates
            if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
        )
    return files


def test_no_seed_or_mission_references() -> None:
    hits = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_the_pattern_catches_what_it_must_and_spares_the_rest() -> None:
    for text in ("the seed's inventory list", "Seed project", "seeds", "(MISSION section 6)", "Mission §3",
                 "Pre-seed the file"):
        assert FORBIDDEN.search(text), text
    for text in ("a seeded Nautobot", "seeding the database", "nautobot_bulk_seed.py", "change permission on",
                 "PERMISSIONS", "seedless"):
        assert not FORBIDDEN.search(text), text
    assert len(scanned_files()) > 100
