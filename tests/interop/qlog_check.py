#!/usr/bin/env python3
"""Checks the qlog files a roamquic tool wrote (issue 5: "qlog files parse as JSON-SEQ and
contain the path events"). Usage: qlog_check.py DIR [--role client|server] [--event NAME ...]

Every *.sqlog file in DIR must be JSON-SEQ (RFC 7464: each record is RS, JSON text, LF), start
with a header record naming the JSON-SEQ serialisation, and hold only events with a name and a
time. Each --event NAME must occur in every file of the role (default: every file). Prints one
line per file with its event count."""
import argparse
import collections
import json
import pathlib
import sys


def check_file(path, events):
    data = path.read_bytes()
    if not data.startswith(b"\x1e"):
        return f"{path.name}: does not start with RS (0x1e)"
    records = data.split(b"\x1e")[1:]
    header = json.loads(records[0])
    fmt = header.get("file_schema", "") + header.get("serialization_format", "")
    if "json-seq" not in fmt.lower() and "JSON-SEQ" not in json.dumps(header):
        return f"{path.name}: the header does not name JSON-SEQ: {json.dumps(header)[:200]}"
    names = collections.Counter()
    for i, rec in enumerate(records[1:], 2):
        if not rec.endswith(b"\n"):
            return f"{path.name}: record {i} does not end with LF"
        ev = json.loads(rec)
        if "name" not in ev or "time" not in ev:
            return f"{path.name}: record {i} has no name or time"
        names[ev["name"]] += 1
    missing = [e for e in events if names[e] == 0]
    if missing:
        return f"{path.name}: no {', '.join(missing)} event"
    print(f"{path.name}: {sum(names.values())} events, " +
          ", ".join(f"{e} x{names[e]}" for e in events))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--role")
    ap.add_argument("--event", action="append", default=[])
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.dir).glob(f"*{'_' + args.role if args.role else ''}.sqlog"))
    if not files:
        print(f"qlog_check: no qlog file in {args.dir}", file=sys.stderr)
        return 1
    errors = []
    for f in files:
        try:
            e = check_file(f, args.event)
        except (ValueError, IndexError) as ex:
            e = f"{f.name}: not JSON-SEQ: {ex}"
        if e:
            errors.append(e)
    for e in errors:
        print("qlog_check: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
