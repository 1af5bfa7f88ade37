"""Published figures beside measured ones. scripts/published.csv holds throughput that others published for
the reference models (hardware, precision, XLA, batch, input, framework, date and source of each); a row
that says what it is for that comparison (its `published_as`: network, phase, precision, xla, batch,
input) is set beside the closest published figure, with how close it came and where the set-ups differ.
Published figures are only ever shown beside a run's, never mixed into its rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .summary import case_label

PUBLISHED = Path(__file__).with_name("published.csv")
SAME = ("network", "phase")
"""A published figure is set beside a row only for the same network, trained or run for inference."""


def load_published(path: Path = PUBLISHED) -> pd.DataFrame:
    """The published table, numbers as numbers; an empty cell (such as XLA where the source does not say)
    is NaN: not stated."""
    return pd.read_csv(path)


def _differences(wanted: dict, device: str, published: pd.Series) -> list[str]:
    """Where a published set-up differs from the row's: hardware first, then each field of published_as."""
    found = []
    if published["hardware_key"].lower() not in device.lower():
        found.append(f"hardware: {device} here, {published['hardware']} there")
    for key, value in wanted.items():
        if key in SAME or key not in published.index:
            continue
        theirs = published[key]
        if pd.isna(theirs):
            found.append(f"{key}: {value} here, not stated there")
        elif theirs != value:
            found.append(f"{key}: {value} here, {theirs} there")
    return found


def _distance(wanted: dict, device: str, published: pd.Series) -> tuple:
    """Closest first: the same hardware, then the fewest differences, then the nearest number (batch)."""
    numbers = [abs(math.log2(value / published[key])) for key, value in wanted.items()
               if key in published.index and isinstance(value, (int, float)) and not isinstance(value, bool)
               and published[key] > 0 and value > 0]
    differences = _differences(wanted, device, published)
    return (published["hardware_key"].lower() not in device.lower(), len(differences), sum(numbers))


def closest(wanted: dict, device: str, published: pd.DataFrame) -> tuple[pd.Series, list[str]] | None:
    """The published figure closest to a row's set-up, and where the two differ; None when no published
    figure is for the same network and phase."""
    same = published
    for key in SAME:
        same = same[same[key] == wanted.get(key)]
    if same.empty:
        return None
    best = min((row for _, row in same.iterrows()), key=lambda row: _distance(wanted, device, row))
    return best, _differences(wanted, device, best)


def beside_published(table: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each row that has a published counterpart: its throughput, the closest published figure, the share
    it reached and what differs between the two set-ups."""
    if table.empty or "published_as" not in table or not table["published_as"].notna().any():
        return pd.DataFrame()
    published = load_published() if published is None else published
    lines = []
    for _, row in table[table["published_as"].notna()].iterrows():
        wanted = json.loads(row["published_as"])
        device = f"{row['device_kind'] or ''} {row['device_name'] or ''}".strip()
        match = closest(wanted, device, published)
        if match is None or not pd.notna(row["throughput"]):
            continue
        figure, differences = match
        lines.append({
            "benchmark": case_label(row), "set-up": wanted.get("title", case_label(row)),  # title: since 2026-12-01
            "device": row["device"], "mode": row["mode"],
            "measured": f"{row['throughput']:,.1f} {figure['unit']}",
            "published": f"{figure['throughput']:,.1f} {figure['unit']}",
            "% of published": f"{100 * row['throughput'] / figure['throughput']:.1f}%",
            "published for": f"{figure['hardware']}, {figure['framework']}, {figure['date']} ({figure['note']})",
            "set-ups differ in": "; ".join(differences) or "nothing recorded",
            "source": figure["source"],
        })
    return pd.DataFrame(lines)


def sentences(shown: pd.DataFrame) -> list[str]:
    """One line per row of beside_published(), in the form doctor prints."""
    return [f"{r['set-up']} on {r['device']} ({r['mode']} mode): {r['measured']}, {r['% of published']} of the "
            f"{r['published']} published for {r['published for']}; set-ups differ in: {r['set-ups differ in']}"
            for _, r in shown.iterrows()]
