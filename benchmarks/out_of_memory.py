"""Out of memory is a result, not a crash: the case is recorded in the JSON's `tensorbench.out_of_memory`
list, and the sweep goes on (the results layer, scripts/results.py, adds the largest batch that fitted)."""

from __future__ import annotations

from typing import Any


class OutOfMemory(Exception):
    """A case exhausted its device's memory; `record` is what the JSON keeps of it."""

    def __init__(self, record: dict[str, Any]):
        super().__init__(f"out of memory: {record['case']}: {record['error']}")
        self.record = record
