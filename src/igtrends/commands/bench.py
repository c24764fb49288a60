"""``igtrends bench``: the two-tower variants beside the baselines, on one split."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from igtrends.log import get_logger

log = get_logger("commands.bench")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subparser to ``commands``."""
    parser = commands.add_parser(
        "bench",
        help="evaluate random, popularity, EASE, ALS and the two-tower variants on one split",
        description=(
            "Split each data set once per user, then train and evaluate random, popularity, "
            "EASE, ALS, the prototype set-up (binary cross-entropy) and the two-tower "
            "variants on that split. Temperature and embedding size are chosen on a "
            "validation split carved from the training pairs. A cold-start table holds "
            "some users out of training entirely and ranks for them from user features, "
            "with the feature columns chosen on validation users. Prints a Markdown table and writes every "
            "row with its settings to --output as JSON."
        ),
    )
    parser.add_argument("--dataset", action="append", choices=["movielens-100k", "sample"],
                        help="data set to benchmark; repeat for several (default: both)")  # fmt: skip
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder of the unpacked MovieLens 100K release (u.data, u.user, u.item)")  # fmt: skip
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="training epochs of every two-tower run (default: the data set's)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results.json"), metavar="FILE",
                        help="JSON file for the rows (default: %(default)s)")  # fmt: skip
    parser.add_argument("--throughput-only", action="store_true",
                        help="only train the data set's default model and print its training "
                             "throughput in examples per second")  # fmt: skip
    parser.set_defaults(handler=_bench_command)


def _bench_command(args: argparse.Namespace) -> int:
    # TensorFlow loads with these modules, so only this command pays for it.
    from igtrends import bench
    from igtrends.training import default_config

    rows: list[bench.BenchRow] = []
    for dataset in args.dataset or ["movielens-100k", "sample"]:
        with tempfile.TemporaryDirectory(prefix="igtrends-bench-") as work_dir:
            data = bench.load_dataset(dataset, args.data_dir, work_dir)
        test_fraction, config = default_config(dataset, epochs=args.epochs)
        if args.throughput_only:
            speed = bench.measure_throughput(data, test_fraction=test_fraction, config=config)
            print(
                f"{dataset}: {speed['examples_per_second']:,.0f} examples/s over the whole fit "
                f"({speed['pairs']:,.0f} pairs x {speed['epochs']:.0f} epochs at batch "
                f"{speed['batch_size']:.0f} in {speed['seconds']:.1f} s); "
                f"{speed['steady_examples_per_second']:,.0f} examples/s after the first epoch"
            )
            continue
        rows += bench.run_benchmark(data, test_fraction=test_fraction, config=config)
        rows += bench.run_cold_start(data, test_fraction=test_fraction, config=config)
    if args.throughput_only:
        return 0
    print(bench.format_table(rows))
    bench.write_results(rows, args.output)
    log.info("wrote %d rows to %s", len(rows), args.output)
    return 0
