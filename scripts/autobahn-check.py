#!/usr/bin/env python3
"""Judge an Autobahn|Testsuite fuzzingclient run.

Usage: autobahn-check.py OUTDIR/index.json [--agent NAME]

Reads the suite's index.json (one entry per case, per agent), prints a
summary of the outcomes, lists every case that failed with the details
from its per-case report, and ends with the plain line

    autobahn: N passed, M failed

A case passes when its `behavior` is OK, NON-STRICT or INFORMATIONAL and
its `behaviorClose` is OK or INFORMATIONAL. Exits 1 if any case failed or
if no case ran at all, 0 otherwise.
"""

import argparse
import collections
import json
import os
import sys

GOOD_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
GOOD_CLOSE = {"OK", "INFORMATIONAL"}

# Fields of a per-case report worth showing for a failed case.
DETAIL_FIELDS = (
    "description",
    "expectation",
    "result",
    "resultClose",
    "expected",
    "received",
    "expectedClose",
    "localCloseCode",
    "remoteCloseCode",
    "remoteCloseReason",
    "wasClean",
    "wasNotCleanReason",
    "wasCloseHandshakeTimeout",
    "wasOpenHandshakeTimeout",
    "wasServerConnectionDropTimeout",
    "droppedByMe",
    "failedByMe",
)


def case_key(case_id):
    parts = []
    for part in str(case_id).split("."):
        try:
            parts.append((0, int(part), ""))
        except ValueError:
            parts.append((1, 0, part))
    return parts


def short(value, limit=600):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def counts(counter):
    return ", ".join("%s %d" % kv for kv in sorted(counter.items())) or "none"


def load_report(outdir, entry):
    name = entry.get("reportfile")
    if not name:
        return None
    path = os.path.join(outdir, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        return {"(report unreadable)": "%s: %s" % (path, error)}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", help="path to the suite's outdir/index.json")
    parser.add_argument(
        "--agent",
        help="agent name in index.json (default: every agent found)",
    )
    args = parser.parse_args(argv)

    try:
        with open(args.index, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError) as error:
        print("autobahn-check: cannot read %s: %s" % (args.index, error))
        print("autobahn: 0 passed, 0 failed")
        return 1
    outdir = os.path.dirname(os.path.abspath(args.index))

    if args.agent is not None:
        if args.agent not in index:
            print(
                "autobahn-check: agent %r not in %s (agents: %s)"
                % (args.agent, args.index, ", ".join(sorted(index)) or "none")
            )
            print("autobahn: 0 passed, 0 failed")
            return 1
        agents = [args.agent]
    else:
        agents = sorted(index)

    passed = 0
    failed = []  # (agent, case id, entry)
    lenient = []  # passing cases that were not plain OK/OK
    by_behavior = collections.Counter()
    by_close = collections.Counter()
    for agent in agents:
        cases = index[agent] or {}
        for case_id in sorted(cases, key=case_key):
            entry = cases[case_id] or {}
            behavior = entry.get("behavior", "MISSING")
            close = entry.get("behaviorClose", "MISSING")
            by_behavior[behavior] += 1
            by_close[close] += 1
            if behavior in GOOD_BEHAVIOR and close in GOOD_CLOSE:
                passed += 1
                if behavior != "OK" or close != "OK":
                    lenient.append((agent, case_id, behavior, close))
            else:
                failed.append((agent, case_id, entry))

    total = passed + len(failed)
    print("Autobahn|Testsuite results (%s): %d cases" % (", ".join(agents) or "no agent", total))
    print("  behavior:      " + counts(by_behavior))
    print("  behaviorClose: " + counts(by_close))
    if lenient:
        print(
            "  accepted but not strict OK: "
            + ", ".join("%s (%s/%s)" % (cid, b, c) for _, cid, b, c in lenient)
        )

    if failed:
        print("")
        print("FAILED cases (%d):" % len(failed))
        for agent, case_id, entry in failed:
            print(
                "  %s [%s] behavior=%s behaviorClose=%s remoteCloseCode=%s duration=%sms"
                % (
                    case_id,
                    agent,
                    entry.get("behavior", "MISSING"),
                    entry.get("behaviorClose", "MISSING"),
                    entry.get("remoteCloseCode"),
                    entry.get("duration"),
                )
            )
            report = load_report(outdir, entry)
            if report:
                for field in DETAIL_FIELDS + ("(report unreadable)",):
                    if field in report and report[field] not in (None, ""):
                        print("      %s: %s" % (field, short(report[field])))
            if entry.get("reportfile"):
                print("      report: %s" % os.path.join(outdir, entry["reportfile"]))

    if total == 0:
        print("")
        print("autobahn-check: no case ran (empty results in %s)" % args.index)

    print("autobahn: %d passed, %d failed" % (passed, len(failed)))
    return 1 if failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
