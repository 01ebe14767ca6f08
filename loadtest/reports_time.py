"""Times the organizer report endpoints over HTTP for loadtest/reports.

    python3 loadtest/reports_time.py login BASE USERNAME ONE_TIME_PASSWORD
        replaces the one-time password as the pages make an organizer do; prints a token.
    python3 loadtest/reports_time.py relogin BASE USERNAME
        logs the organizer in again with the password `login` set; prints a token (an idle
        session ends, so each round of timing starts with a fresh one).
    python3 loadtest/reports_time.py time BASE TOKEN FROM TO REPEAT OUT.json
        times every report for the national, a province and a county scope: one warm-up
        request, then REPEAT measured ones each; writes the medians and maxima (ms) to OUT.json
        and prints them as a table.
    python3 loadtest/reports_time.py merge OUT.json ROUND.json...
        the rounds of one size in one file: each report's median is the median of the rounds'
        medians, its maximum the largest of all.
    python3 loadtest/reports_time.py compare SMALL.json LARGE.json
        prints how each time grew from the smaller record to the larger one.

Standard library only; each request is a fresh connection, as a page's poll is.
"""

import json
import statistics
import sys
import time
import urllib.parse
import urllib.request

# National, a province and one of its counties of the shipped unit tree.
SCOPES = [("national", "*"), ("province", "130000"), ("county", "130102")]
NEW_PASSWORD = "bench2026reports"


def call(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        payload = response.read()
        status = response.status
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        raise SystemExit(f"{method} {path}: {status} {payload[:200]!r}")
    return elapsed, payload


def login(base, username, one_time):
    _, body = call(base, "POST", "/organizer/login", body={"username": username, "password": one_time})
    first = json.loads(body)["token"]
    _, body = call(
        base,
        "PUT",
        "/organizer/password",
        token=first,
        body={"current_password": one_time, "new_password": NEW_PASSWORD},
    )
    print(json.loads(body)["token"])


def relogin(base, username):
    _, body = call(base, "POST", "/organizer/login", body={"username": username, "password": NEW_PASSWORD})
    print(json.loads(body)["token"])


def query(**params):
    return "?" + urllib.parse.urlencode(params)


def requests_of(base, token, unit, first, last):
    """The requests of one scope: (name, path), the next page's cursor taken from the first."""
    _, body = call(base, "GET", "/organizer/participants" + query(unit=unit, per_page=20), token)
    cursor = json.loads(body)["next"] or ""
    # A page far down: the cursor of the 50th page, reached by following `next`.
    deep = cursor
    for _ in range(48):
        if not deep:
            break
        _, body = call(base, "GET", "/organizer/participants" + query(unit=unit, per_page=20, after=deep), token)
        deep = json.loads(body)["next"] or ""
    requests = [
        ("figures, whole period", "/organizer/figures" + query(unit=unit, **{"from": first, "to": last})),
        ("figures, one day", "/organizer/figures" + query(unit=unit, **{"from": last, "to": last})),
        ("daily", "/organizer/daily" + query(unit=unit, **{"from": first, "to": last})),
        ("participants, first page", "/organizer/participants" + query(unit=unit, per_page=20)),
        ("participants, next page", "/organizer/participants" + query(unit=unit, per_page=20, after=cursor)),
        ("participants, 50th page", "/organizer/participants" + query(unit=unit, per_page=20, after=deep)),
        ("participants of a day", "/organizer/participants" + query(unit=unit, per_page=20, day=last)),
        ("questions", "/organizer/questions" + query(unit=unit, **{"from": first, "to": last})),
    ]
    if unit not in ("*",):
        requests.append(("participants.csv", "/organizer/exports/participants.csv" + query(unit=unit)))
    return requests


def measure(base, token, first, last, repeat, out):
    results = []
    for scope, unit in SCOPES:
        for name, path in requests_of(base, token, unit, first, last):
            call(base, "GET", path, token)
            times = [call(base, "GET", path, token)[0] for _ in range(repeat)]
            results.append(
                {
                    "scope": scope,
                    "report": name,
                    "path": path,
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                    "times_ms": [round(t, 1) for t in times],
                }
            )
            print(f"{scope:<9} {name:<26} median {results[-1]['median_ms']:>8.1f} ms   max {results[-1]['max_ms']:>8.1f} ms", flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


def merge(out, rounds):
    loaded = [json.load(open(path)) for path in rounds]
    merged = []
    for first in loaded[0]:
        key = (first["scope"], first["report"])
        same = [r for results in loaded for r in results if (r["scope"], r["report"]) == key]
        merged.append(
            {
                "scope": first["scope"],
                "report": first["report"],
                "path": first["path"],
                "median_ms": round(statistics.median(r["median_ms"] for r in same), 1),
                "max_ms": max(r["max_ms"] for r in same),
                "round_medians_ms": [r["median_ms"] for r in same],
                "times_ms": [t for r in same for t in r["times_ms"]],
            }
        )
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)


def compare(small, large):
    a = {(r["scope"], r["report"]): r for r in json.load(open(small))}
    b = {(r["scope"], r["report"]): r for r in json.load(open(large))}
    print(f"{'scope':<9} {'report':<26} {'small':>9} {'large':>9} {'growth':>7}")
    for key in a:
        if key in b:
            ratio = b[key]["median_ms"] / max(a[key]["median_ms"], 0.1)
            print(f"{key[0]:<9} {key[1]:<26} {a[key]['median_ms']:>7.1f}ms {b[key]['median_ms']:>7.1f}ms {ratio:>6.2f}x")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "login":
        login(*sys.argv[2:5])
    elif command == "relogin":
        relogin(*sys.argv[2:4])
    elif command == "time":
        base, token, first, last, repeat, out = sys.argv[2:8]
        measure(base, token, first, last, int(repeat), out)
    elif command == "merge":
        merge(sys.argv[2], sys.argv[3:])
    elif command == "compare":
        compare(*sys.argv[2:4])
    else:
        raise SystemExit(__doc__)
