#!/usr/bin/env python3
"""The flusher's lag over a load run, for `loadtest/run`.

  lag_sampler.py BASE_URL [--every SECS]
      Every SECS (0.5 by default) reads BASE_URL/readyz and prints its
      `flush.oldest_unflushed_age_ms` (0 when nothing waits, or when the read fails) on a line of
      its own, flushed at once. Runs until killed.

One process for the whole run: starting an interpreter and curl twice a second cost the
measured machine about 7% of its two cores (a profile of the ceiling, docs/performance.md),
which the SQL-only journey of `loadtest/run compare` does not pay.
"""

import argparse
import json
import sys
import time
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("--every", type=float, default=0.5)
    args = parser.parse_args()
    url = args.base.rstrip("/") + "/readyz"
    while True:
        lag = 0
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                lag = json.load(answer).get("flush", {}).get("oldest_unflushed_age_ms") or 0
        except Exception:  # a 503 while starting, a timeout: no sample is a 0, as before
            pass
        print(lag, flush=True)
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
