"""`tensorbench report RUN.json ... [--output DIR]`: one tidy table (summary.csv), PNG charts, and a
report.md and a self-contained report.html (charts embedded, nothing fetched) that show them, with
the cells not to be trusted flagged. Reports never re-measure: they read the JSON only."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from . import backend_comparison, charts, noise, published, results, scaling
from .ceilings import with_ceilings
from .summary import case_label, human_time

SUMMARY_COLUMNS = [
    "name", "workload", "device_kind", "mode", "median_s", "throughput", "gflops",
    "figure", "step_s", "per_call_s", "call", "call_s", "steps_per_call", "waited_call_s", "run_id", "machine", "family", "section", "device", "device_name", "dtype", "params", "iqr_s", "q3_s", "mean_s",
    "stddev_s", "rounds", "items", "flops", "bytes", "gbps", "first_call_s", "setup_s", "check_s", "warmup_s",
    "calibration_s", "timed_s", "rel_error", "precision", "ceiling_gflops", "pct_of_measured", "intensity",
    "roof_gflops", "pct_of_roofline", "datasheet", "pct_of_datasheet", "achievable", "pct_of_achievable",
    "derived_peak_gflops", "pct_of_derived", "ceiling_gbps", "implausible", "trust",
]


def _machines(paths: list[Path], documents: dict[Path, dict] | None = None) -> list[str]:
    """One line per run: where and with what it ran."""
    lines = []
    for path in paths:
        document = (documents or {}).get(path) or results.read_json(path)
        machine = results.as_dict(document.get("machine_info"))
        tb = results.as_dict(machine.get("tensorbench"))
        listed = tb.get("devices") if isinstance(tb.get("devices"), list) else []
        devices = ", ".join(f"{d.get('id')} ({d.get('name')})" for d in listed if isinstance(d, dict))
        keras = results.as_dict(tb.get("keras"))
        backend = keras.get("backend") or "tensorflow"
        framework = f"{backend} {results.as_dict(tb.get(backend)).get('version', '?')}"
        measured_noise = results.as_dict(results.as_dict(document.get("tensorbench")).get("noise"))
        lines.append(f"{results.run_name(path, document)}: host {machine.get('node', '?')}, "
                     f"{tb.get('cpu_model', machine.get('processor', '?'))}, devices {devices or '?'}, "
                     f"Keras {keras.get('version', '?')} on {framework}, {document.get('datetime', '')}"
                     + (f"; the machine's noise while it ran: {noise.described(measured_noise)}"
                        if all(key in measured_noise for key in noise.READ) else ""))
    return lines


def build(paths: list[str | Path], table: pd.DataFrame | None = None,
          documents: dict[Path, dict] | None = None) -> tuple[pd.DataFrame, dict, list[str]]:
    """The table (with ceilings: `table` where the caller loaded it so, from `documents`), the charts by
    name, and notes for the reader."""
    paths = [Path(p) for p in paths]
    if table is None:
        table = results.load(paths)
        table = table if table.empty else with_ceilings(table)
    notes = []
    if table.empty:
        notes.append("These files hold no finished benchmark.")
        return table, {}, notes
    if table["family"].isna().all():
        notes.append("These are plain pytest-benchmark files without tensorbench's fields: only times are shown.")
    if not table["has_roles"].all() and not table["family"].isna().all():
        notes.append(f"{(~table['has_roles']).sum()} rows come from files written before workloads declared their "
                     "roles: they are left out of the charts against size, the ceilings, scaling and precision "
                     "tables (python -m tensorbench.scripts.upgrade FILE.json adds them from the catalogue).")
    if not table["role_ceiling"].notna().any():
        notes.append("No ceiling rows (peak_matmul, stream) in these runs: figures are not checked against what "
                     "the device can do, only against datasheet peaks (tensorbench run --only ...,ceilings).")
    for conflict in results.version_conflicts(table):
        notes.append(f"Not comparable across these runs ({conflict}): the workload changed between them.")
    for record in results.out_of_memory(paths, documents):
        notes.append(f"Out of memory: {record.get('case')} (largest batch that fitted: "
                     f"{record.get('largest_batch_that_fitted')}).")
    notes += fixed_costs(table)
    figures = {name: make(table) for name, make in charts.CHARTS.items()}
    return table, {name: fig for name, fig in figures.items() if fig is not None}, notes


def fixed_costs(table: pd.DataFrame) -> list[str]:
    """One line per kind of call, device and mode: what a call of fit(), evaluate() or predict() costs beyond
    its steps (the median over the rows that measured it: extra_info.steps.per_call_s)."""
    if "per_call_s" not in table or table["per_call_s"].isna().all():
        return []
    rows = table[table["per_call_s"].notna()].assign(backend=table["backend"].fillna("tensorflow"))
    lines = []
    for (run, call, device, backend, mode), group in rows.groupby(["run_id", "call", "device", "backend", "mode"]):
        under = "" if backend == "tensorflow" else f" under {backend}"
        lines.append(f"{call} costs {human_time(group['per_call_s'].median())} a call beyond its steps on {device} "
                     f"({mode}{under}; median of {len(group)} row{'s' if len(group) > 1 else ''}"
                     + (f", run {run})" if table["run_id"].nunique() > 1 else ")"))
    return lines


def precision_table(table: pd.DataFrame) -> pd.DataFrame:
    """What each precision buys: per device, workload and mode at the largest size, each dtype's speed
    against float32's and its error; and each Keras precision policy's throughput against float32's."""
    parts = []
    if "rel_error" in table:
        ops = table[table["rel_error"].notna() & table["gflops"].notna()]
        if not ops.empty and ops["dtype"].nunique() > 1:
            ops = ops.loc[ops.groupby(["run_id", "device", "workload", "mode", "dtype"])["flops"].idxmax()]
            base = ops[ops["dtype"] == "float32"].set_index(["run_id", "device", "workload", "mode"])["median_s"]
            keyed = ops.set_index(["run_id", "device", "workload", "mode"])
            parts.append(pd.DataFrame({
                "device": ops["device"].values, "benchmark": ops.apply(case_label, axis=1).values,
                "mode": ops["mode"].values, "precision": ops["dtype"].values,
                "speed vs float32": (base.reindex(keyed.index).values / ops["median_s"].values),
                "relative error": ops["rel_error"].values,
            }))
    variants = table[table["role_precision"].notna()] if "role_precision" in table else table.iloc[0:0]
    if not variants.empty:  # Keras precision policies: the role `precision` names the parameter
        params = variants["params_dict"]
        precision = pd.Series([p.get(k) for p, k in zip(params, variants["role_precision"])], index=variants.index)
        others = pd.Series([json.dumps({k: v for k, v in p.items() if k != name}, sort_keys=True)
                            for p, name in zip(params, variants["role_precision"])], index=variants.index)
        keyed = variants.assign(others=others, variant=precision)
        key = ["run_id", "device", "mode", "workload", "others"]
        base = (keyed[keyed["variant"] == keyed["role_precision_baseline"]]
                .drop_duplicates(key).set_index(key)["median_s"])
        parts.append(pd.DataFrame({
            "device": keyed["device"].values, "benchmark": keyed.apply(case_label, axis=1).values,
            "mode": keyed["mode"].values, "precision": keyed["variant"].values,
            "speed vs float32": base.reindex(pd.MultiIndex.from_frame(keyed[key])).values / keyed["median_s"].values,
            "relative error": float("nan"),
        }))
    if not parts:
        return pd.DataFrame()
    shown = pd.concat(parts, ignore_index=True)
    shown["speed vs float32"] = shown["speed vs float32"].map(lambda v: f"{v:.2f}x" if pd.notna(v) else "-")
    shown["relative error"] = shown["relative error"].map(lambda v: f"{v:.1e}" if pd.notna(v) else "(training: learns)")
    return shown


def _display_table(table: pd.DataFrame) -> pd.DataFrame:
    """What a person reads: the case, where and how it ran, and the figures, with units in the headers."""
    shown = pd.DataFrame({
        "run": table["run_id"],
        "benchmark": table.apply(case_label, axis=1),
        "device": table["device"].fillna("").astype(str) + " " + table["device_name"].fillna("").astype(str),
        "mode": table["mode"],
        "median": table["median_s"].map(human_time)
        + table.get("figure", pd.Series("call", index=table.index)).map(lambda f: " a step" if f == "step" else ""),
        "fixed cost a call": table.get("per_call_s", pd.Series(dtype=float)).reindex(table.index).map(
            lambda v: human_time(v) if pd.notna(v) else ""),
        "spread (IQR)": (table["iqr_s"] / table["median_s"]).map(lambda v: f"{v:.1%}" if pd.notna(v) else "-"),
        "rounds": table["rounds"].map(lambda v: f"{v:.0f}" if pd.notna(v) else "-"),
        "items/s": table["throughput"].map(lambda v: f"{v:,.0f}" if pd.notna(v) else ""),
        "GFLOP/s": table["gflops"].map(lambda v: f"{v:,.1f}" if pd.notna(v) else ""),
        "% of measured ceiling": table["pct_of_measured"].map(lambda v: f"{v:.0f}%" if pd.notna(v) else ""),
        "% of roofline": table["pct_of_roofline"].map(lambda v: f"{v:.0f}%" if pd.notna(v) else ""),
        "% of datasheet": table["pct_of_datasheet"].map(lambda v: f"{v:.0f}%" if pd.notna(v) else ""),
        "first call": table["first_call_s"].map(human_time),
        "not to be trusted": table["trust"],
    })
    if table["run_id"].nunique() == 1:
        shown = shown.drop(columns="run")
    return shown


def write(paths: list[str | Path], output: str | Path, documents: dict[Path, dict] | None = None,
          table: pd.DataFrame | None = None) -> Path:
    """Write summary.csv, charts/*.png, report.md and report.html into `output`; return report.html. A run
    hands over its document and its table (with ceilings): nothing is read again."""
    output = Path(output)
    table, figures, notes = build(paths, table, documents)  # the inputs read before any folder is made
    (output / "charts").mkdir(parents=True, exist_ok=True)
    columns = [c for c in SUMMARY_COLUMNS if c in table]
    columns += [c for c in table.columns if c not in columns and c not in ("data", "params_dict")]  # every other figure, every parameter
    table[columns].to_csv(output / "summary.csv", index=False)
    images = {}
    for name, fig in figures.items():
        path = output / "charts" / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        images[name] = path
    tables = {}
    if not table.empty:
        tables = {"What each precision buys": precision_table(table),
                  "Keras backends side by side": backend_comparison.comparison_table(table),
                  "Scaling across replicas (tf.distribute)": scaling.efficiency_table(table),
                  "All-reduce bandwidth (tf.distribute)": scaling.all_reduce_table(table),
                  "Beside published figures (reference models)": published.beside_published(table),
                  "Every benchmark": _display_table(table)}
    tables = {title: t for title, t in tables.items() if not t.empty}
    machines = _machines([Path(p) for p in paths], documents)
    (output / "report.md").write_text(_markdown(machines, notes, images, tables, output), encoding="utf-8")
    (output / "report.html").write_text(_html(machines, notes, images, tables), encoding="utf-8")
    return output / "report.html"


HOW_TO_READ = (
    "Times are medians of the warm calls (pytest-benchmark rounds); the first call, with tracing or "
    "compilation, is apart. Where a call runs many steps (fit, evaluate, predict), a row marked 'a step' is "
    "one steady step, and the fixed cost a call is beside it; the chapter's own calls keep the whole call's "
    "time, with the fixed cost beside it. Speedups are ratios of medians for the same workload, size and mode. "
    "'% of measured ceiling' is against the best round of this run's matmul rows on that device and "
    "precision (peak_matmul and matmul); '% of datasheet' against the vendor's peak. A cell is flagged as "
    "not to be trusted when its spread (IQR) is over 10% of its median, it has fewer than 5 rounds, a call "
    "takes under a microsecond, or its figure is implausible: GFLOP/s over 1.25x the measured compute "
    "ceiling or over the datasheet peak, or GB/s over 1.25x the measured memory bandwidth (stream) for "
    "more bytes than the device's largest cache holds."
)


def _markdown(machines, notes, images, tables: dict[str, pd.DataFrame], output: Path) -> str:
    parts = ["# tensorbench report", "", *[f"- {m}" for m in machines], "", HOW_TO_READ, ""]
    parts += [f"> {note}" for note in notes]
    for name, path in images.items():
        parts += ["", f"![{name}]({path.relative_to(output).as_posix()})"]
    for title, shown in tables.items():
        parts += ["", f"## {title}", "", shown.to_markdown(index=False)]
    return "\n".join(parts) + "\n"


def _html(machines, notes, images, tables: dict[str, pd.DataFrame]) -> str:
    """One file: the PNGs inline as data: URIs, the table styled, no script or style fetched."""
    figures = "\n".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        f"</figure>" for name, path in images.items())
    table = ""
    for title, shown in tables.items():
        header = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
        rows = []
        for _, row in shown.iterrows():
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            flagged = bool(row.get("not to be trusted"))
            rows.append(f'<tr class="flagged">{cells}</tr>' if flagged else f"<tr>{cells}</tr>")
        table += f'<h2>{html.escape(title)}</h2><table class="results"><tr>{header}</tr>{"".join(rows)}</table>'
    note_items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    machine_items = "".join(f"<li>{html.escape(m)}</li>" for m in machines)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tensorbench report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
table.results {{ border-collapse: collapse; font-size: 0.85em; }}
table.results th, table.results td {{ padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }}
tr.flagged td {{ background: #fff4e5; }} .notes li {{ color: #8a4b00; }}
</style></head>
<body>
<h1>tensorbench report</h1>
<ul>{machine_items}</ul>
<p>{html.escape(HOW_TO_READ)}</p>
<ul class="notes">{note_items}</ul>
{figures}
{table}
<script>
// For headless checks: how many charts decoded, and how many did not.
window.addEventListener("load", () => {{
  const images = Array.from(document.images);
  document.body.dataset.chartsLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.chartsBroken = images.filter(i => !(i.complete && i.naturalWidth > 0)).length;
}});
</script>
</body></html>
"""
