"""``python -m bench``: every benchmark, one table each, and at the end one table of issue 11's aims (figure,
aim, measured, ok or the gap, database). Options are passed to each benchmark; ``--database-url`` runs
every one of them on that PostgreSQL server (each on a database of its own)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench import reminder_wave, rsvp_burst, rsvp_presses, start_traffic, status_latency
from bench.common import Aim, BenchError, aim_table, quiet

BENCHMARKS = (start_traffic, rsvp_presses, rsvp_burst, reminder_wave, status_latency)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    start_traffic.add_arguments(parser)
    status_latency.add_arguments(parser, shared=True)
    reminder_wave.add_arguments(parser)
    rsvp_presses.add_arguments(parser, shared=True)
    rsvp_burst.add_arguments(parser, shared=True)
    args = parser.parse_args(argv)
    quiet()
    failed = False
    database = "postgresql" if args.database_url else "sqlite"
    closing: list[Aim] = []
    for benchmark in BENCHMARKS:
        print(f"== {benchmark.NAME}")
        try:
            result = asyncio.run(benchmark.run(benchmark.options_from(args)))
        except BenchError as error:
            print(f"bench failed: {error}", file=sys.stderr)
            closing.append(Aim(benchmark.NAME, "measured", "bench failed", False, str(error)[:60], database))
            failed = True
            continue
        print(benchmark.report(result))
        aims = getattr(benchmark, "aims", None)
        if aims is None:
            closing.append(Aim(benchmark.NAME, "—", "see its table above", False, "no aims() yet", database))
        else:
            closing += aims(result)
    print("== aims of issue 11")
    print(aim_table(closing))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
