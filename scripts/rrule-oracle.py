#!/usr/bin/env python3
"""An independent oracle for tollgate-calendar's recurrence expansion, written from
docs/calendar.md with python-dateutil and the standard library's zoneinfo.

Reads a JSON list of cases on standard input, each:

    {"tzid": "Europe/Berlin", "dtstart": "2026-03-27T02:30:00",
     "days": 0, "seconds": 3600,            # the length: calendar days, then elapsed seconds
     "rule": "FREQ=DAILY" or null,          # RRULE value
     "exdates": ["2026-03-29T02:30:00"], "rdates": [...],   # local date-times
     "from": "2026-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}

and prints a JSON list with, for each case, the list of [start, end] (UTC, RFC 3339) of every
occurrence overlapping [from, to), in the order of the local starts.

The expansion runs on NAIVE local date-times (dateutil's rruleset), so no time zone is involved
until each local start is given its zone with fold=0, which PEP 495 defines as: in a gap, the
offset before the transition (the time moves forward by the gap); in an overlap, the first
(earlier) instant. That is the daylight-saving rule of docs/calendar.md; the script checks it
against known transitions before it starts. An UNTIL is rewritten to local time first: a UTC
UNTIL becomes the zone's wall clock at that instant, a date UNTIL the last second of that day.

With --time N it expands every case N times and prints {"occurrences": per pass, "seconds":
total} instead, for benches/rrule.rs.
"""

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr, rruleset

UTC = timezone.utc


def check_fold_rule():
    """fold=0 must read a gap with the earlier offset and an overlap as the earlier instant."""
    berlin = ZoneInfo("Europe/Berlin")
    expectations = [
        (datetime(2026, 3, 29, 2, 30), "2026-03-29T01:30:00Z"),  # gap: moves forward to 03:30 CEST
        (datetime(2026, 10, 25, 2, 30), "2026-10-25T00:30:00Z"),  # overlap: the CEST reading
    ]
    for naive, expected in expectations:
        got = utc_text(naive.replace(tzinfo=berlin, fold=0).astimezone(UTC))
        if got != expected:
            sys.exit(f"rrule-oracle: fold=0 gives {got} for {naive}, expected {expected}")


def utc_text(instant):
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def parse_local(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


def local_until(value, zone):
    """An UNTIL value as a naive local date-time in `zone`."""
    if value.endswith("Z"):
        instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return instant.astimezone(zone).replace(tzinfo=None)
    if "T" in value:
        return datetime.strptime(value, "%Y%m%dT%H%M%S")
    return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)


def local_rule(rule, zone):
    parts = []
    for part in rule.upper().split(";"):
        if part.startswith("UNTIL="):
            part = "UNTIL=" + local_until(part[len("UNTIL="):], zone).strftime("%Y%m%dT%H%M%S")
        parts.append(part)
    return ";".join(parts)


def to_instant(naive, zone):
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def expand(case):
    zone = ZoneInfo(case["tzid"])
    dtstart = parse_local(case["dtstart"])
    days, seconds = case["days"], case["seconds"]
    start_of, end_of = parse_instant(case["from"]), parse_instant(case["to"])
    upper = end_of.astimezone(zone).replace(tzinfo=None) + timedelta(days=2)
    starts = rruleset()
    if case["rule"]:
        starts.rrule(rrulestr(local_rule(case["rule"], zone), dtstart=dtstart))
    else:
        starts.rdate(dtstart)
    for text in case["rdates"]:
        starts.rdate(parse_local(text))
    for text in case["exdates"]:
        starts.exdate(parse_local(text))
    occurrences = []
    for local_start in starts:
        if local_start > upper:
            break
        start = to_instant(local_start, zone)
        if days:
            end = to_instant(local_start + timedelta(days=days), zone) + timedelta(seconds=seconds)
        else:
            end = start + timedelta(seconds=seconds)
        if start < end_of and end > start_of:
            occurrences.append((start, end))
    return occurrences


def main():
    check_fold_rule()
    cases = json.load(sys.stdin)
    if len(sys.argv) == 3 and sys.argv[1] == "--time":
        passes = int(sys.argv[2])
        started = time.perf_counter()
        count = 0
        for _ in range(passes):
            count = sum(len(expand(case)) for case in cases)
        print(json.dumps({"occurrences": count, "seconds": time.perf_counter() - started}))
        return
    results = [[[utc_text(start), utc_text(end)] for start, end in expand(case)] for case in cases]
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
