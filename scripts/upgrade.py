"""`python -m tensorbench.scripts.upgrade RUN.json ...`: give the benchmarks of a file written before
workloads declared their chart roles (extra_info.roles, November 2026) the roles their workload declares
now, from the catalogue (whatever the workload's version: roles say what its parameters are, which a
new version of the computation keeps); rewrites each file in one step. A
report reads such a file without them, only with fewer charts and tables."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tensorbench.workloads import registry

from .results import ResultsError, as_dict, read_json


def upgrade(path: Path) -> int:
    """Add roles where they are missing; return how many benchmarks got them."""
    document = read_json(path)
    catalogue = registry.all_workloads()
    added = 0
    for bench in document["benchmarks"]:
        info = as_dict(as_dict(bench).get("extra_info"))
        workload = catalogue.get(info.get("workload"))
        if "roles" in info or workload is None:
            continue
        info["roles"] = dict(workload.roles)
        added += 1
    for record in as_dict(document.get("tensorbench")).get("out_of_memory") or []:
        workload = catalogue.get(as_dict(record).get("workload"))
        if workload is not None and "roles" not in record:
            record["roles"] = dict(workload.roles)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, separators=(",", ":")))
    os.replace(partial, path)
    return added


if __name__ == "__main__":
    try:
        for name in sys.argv[1:]:
            print(f"{name}: roles added to {upgrade(Path(name))} benchmarks")
    except ResultsError as exc:
        print(f"tensorbench: error: {exc}", file=sys.stderr)
        sys.exit(2)
