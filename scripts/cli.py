"""The `tensorbench` command line: a convenience over pytest-benchmark, never a replacement.

A user's mistake is one line on stderr, `tensorbench: error: ...`, and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from tensorbench.workloads.base import KERAS_BACKENDS, MODES
from tensorbench.workloads.checks import EPSILON
from tensorbench.workloads.devices import KINDS
from tensorbench.workloads.profiles import PROFILES

from .compare import MIN_EFFECT
from .errors import UsageError
from .results import ResultsError


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line and no usage dump."""

    def error(self, message: str):
        raise UsageError(message)


def csv_list(valid: tuple[str, ...] | None = None, what: str = "value"):
    """An argparse type for comma-separated lists, each item checked against `valid`."""

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"empty {what} list")
        if valid is not None:
            for item in items:
                if item.split(":")[0] not in valid:
                    raise argparse.ArgumentTypeError(f"unknown {what} {item!r}; valid: {', '.join(valid)}")
        return items

    return parse


def output_file(text: str) -> str:
    """An argparse type for a file to write: its folder must exist and be writable, checked before any work
    (a report or a diagnosis is not lost to a typo in where it goes)."""
    path = os.path.abspath(text)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text}: no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {folder} is not writable")
    return text


def output_folder(text: str) -> str:
    """An argparse type for a folder to write into (made if missing): it, or the nearest folder above it
    that exists, must be a writable folder."""
    path = os.path.abspath(text)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise argparse.ArgumentTypeError(f"cannot write into {text}: {existing} is not a folder")
    if not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {text}: {existing} is not writable")
    return text


DTYPES = [dtype for dtype in EPSILON if dtype != "tf32"]  # TF32 is a float32 matmul setting, not a dtype


def installed_version() -> str:
    """The installed distribution's version (pyproject.toml's), or "unknown" from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tensorbench")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="tensorbench", description="Benchmark TensorFlow and Keras on every device present.")
    parser.add_argument("--version", action="version", version=f"tensorbench {installed_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    run = commands.add_parser("run", help="run the benchmark suite and write DIR/benchmarks.json")
    run.add_argument("--profile", default="quick", choices=list(PROFILES),
                     help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()))
    run.add_argument("--devices", type=csv_list(KINDS, "device"), default=[],
                     help="comma-separated kinds or ids: cpu, gpu, gpu:1, tpu, numpy (default: all present)")
    run.add_argument("--modes", type=csv_list(MODES, "mode"), default=list(MODES),
                     help="comma-separated: eager, graph (tf.function), xla (jit_compile) (default: all)")
    run.add_argument("--only", type=csv_list(what="pattern"), default=[], metavar="PATTERN",
                     help="comma-separated workload names, families or chapter sections (3-5-2, 3-6)")
    run.add_argument("--dtypes", type=csv_list(DTYPES, "dtype"), default=[],
                     help=f"comma-separated: {', '.join(DTYPES)}: of the cases with a dtype, run only these (default: all)")
    run.add_argument("--backends", type=csv_list(KERAS_BACKENDS, "backend"), default=[],
                     help="Keras backends, each in its own process: tensorflow (every workload), jax, torch (the "
                          "Keras workloads); default: Keras's configured backend only")
    run.add_argument("--output", type=output_folder, metavar="DIR", help="where benchmarks.json goes (default: results/<run-id>/)")
    run.add_argument("--isolate", choices=["auto", "on", "off"], default="auto",
                     help="run each training sweep point in its own process: auto (on GPU and TPU), on, off")
    report = commands.add_parser("report", help="summary.csv, charts, report.md and report.html of one or more runs")
    report.add_argument("runs", nargs="+", metavar="RUN.json", help="pytest-benchmark JSON files")
    report.add_argument("--output", type=output_folder, metavar="DIR", help="where the report goes (default: beside the first file)")

    compare = commands.add_parser("compare", help="is CANDIDATE faster or slower than BASELINE, and is it real?")
    compare.add_argument("baseline", metavar="BASELINE.json[,MORE.json]",
                         help="one run, or several of the same set-up, comma-separated (their drift is then measured)")
    compare.add_argument("candidate", metavar="CANDIDATE.json[,MORE.json]")
    compare.add_argument("--min-effect", type=percent, default=100 * MIN_EFFECT, metavar="PCT",
                         help=f"smallest change reported as faster or slower (default {100 * MIN_EFFECT:g}%%)")
    compare.add_argument("--fail-above", type=percent, metavar="PCT",
                         help="exit 1 when a benchmark is slower by more than PCT percent and that is significant")
    compare.add_argument("--csv", type=output_file, metavar="FILE", help="write the comparison as CSV")
    compare.add_argument("--chart", type=output_file, metavar="FILE.png", help="draw the ratios with their intervals")
    ceiling = commands.add_parser("ceiling", help="how fast can this machine go: matmul and memory bandwidth, swept")
    ceiling.add_argument("--devices", type=csv_list(KINDS, "device"), default=[],
                         help="comma-separated kinds or ids: cpu, gpu, gpu:1, tpu, numpy (default: all present)")
    ceiling.add_argument("--profile", "--preset", dest="preset", choices=["quick", "thorough"], default="quick",
                         help="quick (the default): square and two other matmul shapes in float32 and bfloat16, "
                              "STREAM at 4 to 256 MiB; thorough: more shapes and sizes, float16 (--preset: its "
                              "older name)")
    ceiling.add_argument("--dtypes", type=csv_list(DTYPES, "dtype"), default=[],
                         help=f"the matmul precisions ({', '.join(DTYPES)}; default: the preset's); STREAM's "
                              "bandwidth is float32 whatever")
    ceiling.add_argument("--output", type=output_folder, metavar="DIR",
                         help="where benchmarks.json goes (default: results/ceiling-<run-id>/)")
    ceiling.add_argument("--backend", choices=KERAS_BACKENDS, help=BACKEND_HELP)
    listing = commands.add_parser("list", help="the workloads: name, family, chapter sections, Keras backends")
    listing.add_argument("--only", type=csv_list(what="pattern"), default=[], metavar="PATTERN",
                         help="as run's --only: workload names, families or sections (default: every workload)")
    listing.add_argument("--backend", choices=KERAS_BACKENDS, help=BACKEND_HELP)
    doctor = commands.add_parser("doctor", help="is this machine set up right, and as fast as it should be?")
    doctor.add_argument("--require-gpu", action="store_true", help="fail when no GPU is usable")
    doctor.add_argument("--json", type=output_file, metavar="FILE", help="write every check and figure as JSON")
    doctor.add_argument("--run", metavar="RUN.json", nargs="+", dest="runs",
                        help="also set these runs' reference-model figures beside the published ones")
    doctor.add_argument("--backend", choices=KERAS_BACKENDS, help=BACKEND_HELP)
    return parser


BACKEND_HELP = ("the Keras backend to run under: tensorflow, jax, torch (default: Keras's configured one, "
                "KERAS_BACKEND); the JAX and PyTorch ones need no TensorFlow")


def percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"a percentage is 0 or more, not {text}")
    return value


def report_command(runs: list[str], output: str | None) -> int:
    from pathlib import Path

    from .report import write

    target = Path(output) if output else Path(runs[0]).parent / "report"
    path = write(runs, target)
    print(f"tensorbench: report in {path} (with summary.csv, report.md and charts/ beside it)")
    return 0


def list_command(only: list[str]) -> int:
    """The workloads --only would select, under this process's Keras backend, with the names --only takes."""
    import pandas as pd

    from .native_log import captured_native_stderr

    with captured_native_stderr():  # the framework's start-up lines (Keras imports it): not for a listing
        from tensorbench.workloads import registry
        from tensorbench.workloads.keras_backend import current
        from tensorbench.workloads.run_rules import rules

        chosen = registry.select(only) if only else registry.all_workloads()
    if not chosen:
        raise UsageError(f"--only {','.join(only)} selects no workload (tensorbench list shows them all)")
    table = pd.DataFrame([{
        "workload": name, "family": cls.family, "sections": ",".join(registry.sections(cls)) or "-",
        "backends": ",".join(cls.backends), "runs": "when named" if rules(cls.family).only_when_asked else "always",
        "what": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
    } for name, cls in chosen.items()])
    with pd.option_context("display.max_colwidth", 70, "display.width", 200):
        print(table.to_string(index=False))
    print(f"\n{len(table)} workloads under Keras's {current()} backend; --only takes a workload, a family or a "
          "section (3-5-2, or 3-6 for every 3-6-x)")
    return 0


def compare_command(baseline: str, candidate: str, fail_above: float | None, csv: str | None,
                    chart_path: str | None, min_effect: float = 100 * MIN_EFFECT) -> int:
    from . import compare as comparison

    table, notes = comparison.compare(baseline, candidate, min_effect / 100)
    print(comparison.format_table(table))
    print("\nGeometric mean of the ratios per family (above 1: the candidate is slower)")
    for family, ratio in comparison.geometric_means(table).items():
        print(f"  {family}: {ratio:.3f}x")
    for note in notes:
        print(f"note: {note}")
    counts = table["verdict"].value_counts() if "verdict" in table else {}
    print(f"\n{len(table)} benchmarks compared: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    if csv:
        table.to_csv(csv, index=False)
    if chart_path:
        comparison.chart(table, chart_path)
    if fail_above is not None:
        slower = comparison.regressions(table, fail_above)
        for _, row in slower.iterrows():
            print(f"tensorbench: slower by {100 * (row['ratio'] - 1):.0f}% (95% CI {row['ci_low']:.2f}-"
                  f"{row['ci_high']:.2f}x): {row['benchmark']} {row['device_kind']} {row['mode']}", file=sys.stderr)
        if len(slower):
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's INFO lines drown the progress
    # SIGINT interrupts a run and keeps what finished, even where the shell started us with SIGINT
    # ignored (a background job): `kill -INT` then still means stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            from .run import run

            return run(args.profile, args.devices, args.modes, args.only, args.output, args.isolate, args.backends,
                       args.dtypes)
        if args.command in ("ceiling", "doctor", "list"):
            from .run import choose_backends

            choose_backends([args.backend] if args.backend else [])
        if args.command == "ceiling":
            from .ceiling import ceiling

            return ceiling(args.devices, args.preset, args.output, args.dtypes)
        if args.command == "report":
            return report_command(args.runs, args.output)
        if args.command == "list":
            return list_command(args.only)
        if args.command == "doctor":
            from .doctor import doctor

            return doctor(args.require_gpu, args.json, args.runs)
        if args.command == "compare":
            return compare_command(args.baseline, args.candidate, args.fail_above, args.csv, args.chart,
                                   args.min_effect)
        raise UsageError(f"unknown command {args.command}")
    except (UsageError, ResultsError) as exc:
        print(f"tensorbench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # where the user asked for output that cannot be written (a folder of /proc)
        print(f"tensorbench: error: cannot write {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tensorbench: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script: main(), then leave without tearing the interpreter down. Everything a command
    writes is closed by then (results are replaced in one step); what remains is Python freeing every
    TensorFlow and Keras object one by one, which took 1.8 to 2.4 s after a run's last line on the 2-core
    development VM (2026-12-03), and 1.4 s after importing TensorFlow alone."""
    status = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
