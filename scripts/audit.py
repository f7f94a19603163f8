#!/usr/bin/env python3
"""Dependency audit of Cargo.lock against RustSec advisories, offline.

The machines this project is built on reach the package registries but not GitHub, where the
RustSec advisory database lives, so neither `cargo audit` nor `cargo deny` can fetch it. Instead
`audit/advisories.json` holds the facts of the database that an audit needs (advisory id,
crate, affected/patched version ranges, kind), extracted from a snapshot of it:

    scripts/audit.py extract <path to a checkout of rustsec/advisory-db>

and `scripts/audit.py` (what `scripts/test.sh` runs) checks every crates.io package in
Cargo.lock against them: a vulnerability fails the audit unless `audit/ignore.txt` lists its id
with a reason; informational advisories (unmaintained, unsound) are printed as warnings. The
snapshot's date is printed, so a stale database is visible; refresh it with `extract`.
"""

import json
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DB = ROOT / "audit" / "advisories.json"
IGNORE = ROOT / "audit" / "ignore.txt"


def parse_version(text):
    """`1.2.3-pre+build` -> ((1, 2, 3), is_prerelease)."""
    core = text.split("+", 1)[0]
    core, _, pre = core.partition("-")
    parts = [int(p) for p in core.split(".") if p.isdigit()]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3]), bool(pre)


def matches(version, requirement):
    """Whether `version` satisfies a Cargo requirement such as `>= 1.2, < 1.4` or `^0.3.5`."""
    (v, v_pre) = parse_version(version)
    for clause in requirement.split(","):
        clause = clause.strip()
        if not clause or clause == "*":
            continue
        m = re.match(r"^(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.+-]*)$", clause)
        if not m:
            raise ValueError(f"cannot read requirement {requirement!r}")
        op, bound_text = m.group(1) or "^", m.group(2)
        given = len(bound_text.split("+")[0].split("-")[0].split("."))
        (b, b_pre) = parse_version(bound_text)
        if op == ">=" and not (v > b or (v == b and (b_pre or not v_pre))):
            return False
        if op == ">" and not (v > b):
            return False
        if op == "<" and not (v < b or (v == b and v_pre and not b_pre)):
            return False
        if op == "<=" and not (v <= b):
            return False
        if op == "=" and v != b:
            return False
        if op in ("^", "~"):
            if v < b:
                return False
            if op == "~" or given == 1:
                upper = (b[0] + 1, 0, 0) if given == 1 else (b[0], b[1] + 1, 0)
            elif b[0] > 0:
                upper = (b[0] + 1, 0, 0)
            elif b[1] > 0 or given == 2:
                upper = (0, b[1] + 1, 0)
            else:
                upper = (0, 0, b[2] + 1)
            if not v < upper:
                return False
    return True


def extract(db_path):
    advisories = []
    for path in sorted(pathlib.Path(db_path, "crates").glob("*/RUSTSEC-*.md")):
        text = path.read_text(encoding="utf-8")
        front = re.search(r"```toml\n(.*?)\n```", text, re.S)
        if not front:
            continue
        data = tomllib.loads(front.group(1))
        advisory = data.get("advisory", {})
        if advisory.get("withdrawn"):
            continue
        versions = data.get("versions", {})
        advisories.append({
            "id": advisory["id"],
            "package": advisory["package"],
            "date": str(advisory.get("date", "")),
            "informational": advisory.get("informational"),
            "patched": versions.get("patched", []),
            "unaffected": versions.get("unaffected", []),
        })
    snapshot = max((a["date"] for a in advisories), default="")
    DB.parent.mkdir(exist_ok=True)
    DB.write_text(json.dumps({"newest_advisory": snapshot, "advisories": advisories}, indent=0) + "\n")
    print(f"audit: {len(advisories)} advisories written to {DB.relative_to(ROOT)} (newest {snapshot})")


def check():
    db = json.loads(DB.read_text())
    ignored = {}
    if IGNORE.exists():
        for line in IGNORE.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                advisory_id, _, reason = line.partition(" ")
                ignored[advisory_id] = reason.strip()
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    packages = [p for p in lock["package"] if p.get("source", "").startswith("registry+")]
    by_name = {}
    for advisory in db["advisories"]:
        by_name.setdefault(advisory["package"], []).append(advisory)
    failures, warnings = [], []
    for package in packages:
        for advisory in by_name.get(package["name"], []):
            safe = any(matches(package["version"], r) for r in advisory["patched"] + advisory["unaffected"])
            if safe:
                continue
            line = f"{advisory['id']} {package['name']} {package['version']}"
            if advisory["informational"]:
                warnings.append(f"{line} ({advisory['informational']})")
            elif advisory["id"] in ignored:
                warnings.append(f"{line} (ignored: {ignored[advisory['id']]})")
            else:
                failures.append(line)
    print(f"audit: {len(packages)} crates from Cargo.lock against {len(db['advisories'])} RustSec "
          f"advisories (newest {db['newest_advisory']})")
    for line in warnings:
        print(f"audit: warning: {line}")
    for line in failures:
        print(f"audit: VULNERABLE: {line}")
    return 1 if failures else 0


def self_test():
    assert matches("1.2.3", ">= 1.2.0")
    assert not matches("1.1.9", ">= 1.2.0")
    assert matches("0.3.6", ">= 0.3.0, < 0.3.7")
    assert not matches("0.3.7", ">= 0.3.0, < 0.3.7")
    assert matches("0.4.9", "^0.4.8") and not matches("0.5.0", "^0.4.8")
    assert matches("1.9.0", "^1.2") and not matches("2.0.0", "^1.2")
    assert matches("0.0.3", "^0.0.3") and not matches("0.0.4", "^0.0.3")
    assert matches("1.2.9", "~1.2.3") and not matches("1.3.0", "~1.2.3")
    assert not matches("1.0.0-alpha", ">= 1.0.0")
    assert matches("0.1.0", "< 0.2") and matches("2.0.0", "= 2.0.0")


if __name__ == "__main__":
    self_test()
    if len(sys.argv) == 3 and sys.argv[1] == "extract":
        extract(sys.argv[2])
    elif len(sys.argv) == 1:
        sys.exit(check())
    else:
        sys.exit(__doc__)
