"""Out of memory is a result, not a crash: the case is recorded (with the largest batch of the same
sweep that fitted) in the JSON's `tensorbench.out_of_memory` list, and the sweep goes on."""

from __future__ import annotations

from typing import Any


class OutOfMemory(Exception):
    """A case exhausted its device's memory; `record` is what the JSON keeps of it."""

    def __init__(self, record: dict[str, Any]):
        super().__init__(f"out of memory: {record['case']}: {record['error']}")
        self.record = record


def _same_sweep(info: dict[str, Any], record: dict[str, Any]) -> bool:
    """The same workload, device and mode, and the same parameters but for the batch size."""
    def without_batch(params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k != "batch_size"}

    return (info.get("workload"), info.get("device"), info.get("mode")) == (
        record["workload"], record["device"], record["mode"]) and without_batch(
        info.get("params", {})) == without_batch(record["params"])


def with_largest_fitted(records: list[dict[str, Any]], benchmarks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record with `largest_batch_that_fitted`: the largest batch size of its sweep that finished."""
    annotated = []
    for record in records:
        fitted = [b["extra_info"]["params"]["batch_size"] for b in benchmarks
                  if "batch_size" in b.get("extra_info", {}).get("params", {})
                  and _same_sweep(b["extra_info"], record)]
        annotated.append({**record, "largest_batch_that_fitted": max(fitted, default=None)})
    return annotated
