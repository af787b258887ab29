"""`make bench`: every benchmark, one after another (about twenty minutes on 2 cores).

Each prints its figures; docs/benchmarks.md records them with the machine.
"""

from __future__ import annotations

import subprocess
import sys

RUNS = (
    ["bench.telegram", "all"],
    ["bench.engine", "all"],
    ["bench.discord", "all"],
    ["bench.web"],
    ["bench.impact"],
    ["bench.faults", "all"],
    ["bench.footprint"],
)


def main() -> int:
    failed = 0
    for run in RUNS:
        print(f"== python -m {' '.join(run)}", flush=True)
        failed |= subprocess.call([sys.executable, "-m", *run])  # noqa: S603
    return failed


if __name__ == "__main__":
    sys.exit(main())
