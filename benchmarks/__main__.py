"""``python -m benchmarks [name ...] [--write-results] [--strict] [--profile P [--time-scale S]]``.

Runs benchmarks and prints markdown. With ``--profile`` (a sandbox latency profile: ``default``,
``slow``) the named benchmarks run their latency mode (``run_latency``) instead of the loopback one.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import BENCHMARKS, load
from benchmarks._common import RESULTS_FILE, Result, machine_info, write_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--write-results",
        action="store_true",
        help=f"rewrite the sections of the benchmarks run in {RESULTS_FILE.name}",
    )
    parser.add_argument("--strict", action="store_true", help="exit with 1 when a target is missed")
    parser.add_argument(
        "--profile", help="run the latency mode under this sandbox latency profile (default, slow)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="with --profile: every latency and rate window this many times shorter (default 1: real time)",
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    modules = {name: load(name) for name in names}
    if args.profile:
        missing = [n for n, m in modules.items() if not hasattr(m, "run_latency")]
        if missing:
            parser.error(f"no latency mode in {', '.join(missing)}")
    machine = machine_info()
    results: list[Result] = []
    for name, module in modules.items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        if args.profile:
            result = module.run_latency(profile=args.profile, time_scale=args.time_scale)
        else:
            result = module.run()
        print(f"{name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
        print(result.markdown(machine) + "\n", flush=True)
    if args.write_results:
        write_results(results)
        print(f"wrote {RESULTS_FILE}", file=sys.stderr)
    failed = [r.name for r in results if not r.passed]
    if failed:
        print(f"targets missed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
