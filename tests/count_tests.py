#!/usr/bin/env python3
"""Count test cases from meson's testlog.json: prints "PASSED FAILED".

Each Criterion test case is one TAP line ("ok" / "not ok"); a suite that
printed no TAP at all counts as one case, and a suite that failed (crashed,
timed out) after its last TAP line counts one failure more. Used by
tests/run.sh and tests/sanitize.sh.
"""
import json
import re
import sys

passed = failed = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout") or ""
    ok = len(re.findall(r"^ok\b", out, re.M))
    bad = len(re.findall(r"^not ok\b", out, re.M))
    if ok + bad == 0:  # no TAP at all: count the suite itself
        if t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
            ok = 1
        else:
            bad = 1
    elif t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
        bad = 1  # crashed or timed out after its last TAP line
    passed += ok
    failed += bad
print(passed, failed)
