"""Prefect's side of scripts/bench/side_by_side.sh (a benchmark, not a test).

The same shapes as scripts/bench/whole.sh generates for Baton: a chain of N
trivial tasks, each taking the previous one's result, and one task mapped
over N values (Prefect's `.map`, its default thread-pool task runner, as a
ForEach with concurrencyLimit 0). Each run is a whole process on a fresh
PREFECT_HOME, as each Baton run is on a fresh BATON_HOME.

    python prefect_flows.py chain 40
    python prefect_flows.py map 10000
"""

import sys

from prefect import flow, task


@task
def ret(value):
    return value


@flow
def chain(n: int):
    value = "start"
    for _ in range(n):
        value = ret(value)
    return value


@flow
def mapped(n: int):
    futures = ret.map(list(range(n)))
    return [f.result() for f in futures]


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    out = chain(n) if kind == "chain" else mapped(n)
    assert out is not None
