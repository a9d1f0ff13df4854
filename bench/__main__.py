"""``python -m bench``: every benchmark, one table each; options are passed to each benchmark."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench import reminder_wave, rsvp_burst, rsvp_presses, start_traffic, status_latency
from bench.common import BenchError, quiet

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
    for benchmark in BENCHMARKS:
        print(f"== {benchmark.NAME}")
        try:
            result = asyncio.run(benchmark.run(benchmark.options_from(args)))
        except BenchError as error:
            print(f"bench failed: {error}", file=sys.stderr)
            failed = True
            continue
        print(benchmark.report(result))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
