"""The baedal workload in Python asyncio: N concurrent orders, each
delivered, then a meal on asyncio.sleep, then eaten and collected; every
step recorded. Meal of order i (1-based) of n: lo + (hi - lo) * (i - 1) // (n - 1)
microseconds, as the server's GEN makes them.

usage: asyncio.py N LO_US HI_US   ->  one JSON line on stdout
"""
import os
import sys

# This file is named asyncio.py: keep its own directory off the path so
# that the import below finds the standard library's asyncio, not itself.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402


def meal_us(i, n, lo, hi):
    return lo if n == 1 else lo + (hi - lo) * (i - 1) // (n - 1)


async def order(i, meal_s, ev):
    ev[3 * i] = time.monotonic()          # delivered
    await asyncio.sleep(meal_s)
    ev[3 * i + 1] = time.monotonic()      # eaten
    ev[3 * i + 2] = time.monotonic()      # collected


async def main(n, lo, hi):
    ev = [0.0] * (3 * n)
    meals = [meal_us(i + 1, n, lo, hi) / 1e6 for i in range(n)]
    t0 = time.monotonic()
    await asyncio.gather(*(order(i, meals[i], ev) for i in range(n)))
    makespan = max(ev[3 * i + 2] for i in range(n)) - t0
    late = sorted(ev[3 * i + 2] - t0 - meals[i] for i in range(n))
    return makespan, late[int(0.99 * (n - 1) + 0.5)]


if __name__ == "__main__":
    n, lo, hi = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    makespan, p99 = asyncio.run(main(n, lo, hi))
    print(json.dumps({"peer": "asyncio", "n": n, "makespan_s": round(makespan, 6),
                      "p99_late_ms": round(p99 * 1e3, 3)}))
