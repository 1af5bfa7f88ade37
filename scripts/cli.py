"""The `tensorbench` command line: a convenience over pytest-benchmark, never a replacement.

A user's mistake is one line on stderr, `tensorbench: error: ...`, and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from tensorbench.workloads.base import MODES
from tensorbench.workloads.devices import KINDS
from tensorbench.workloads.profiles import PROFILES

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


def build_parser() -> Parser:
    parser = Parser(prog="tensorbench", description="Benchmark TensorFlow and Keras on every device present.")
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
    run.add_argument("--output", metavar="DIR", help="where benchmarks.json goes (default: results/<run-id>/)")
    run.add_argument("--isolate", choices=["auto", "on", "off"], default="auto",
                     help="run each training sweep point in its own process: auto (on GPU and TPU), on, off")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's INFO lines drown the progress
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            from .run import run

            return run(args.profile, args.devices, args.modes, args.only, args.output, args.isolate)
        raise UsageError(f"unknown command {args.command}")
    except (UsageError, ResultsError) as exc:
        print(f"tensorbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tensorbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
