"""Command line of igtrends.

``igtrends run`` executes the numbered notebooks of the study into a new run folder.
Each command is a subparser with a handler that returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import igtrends
from igtrends.errors import ConfigurationError, IgtrendsError
from igtrends.pipeline import DATASETS, run_pipeline

EXIT_ERROR = 1
# Modules that each add one command through ``register(commands)``.
COMMAND_MODULES: tuple[str, ...] = ("igtrends.commands.collect", "igtrends.commands.bench", "igtrends.commands.recommend")
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="igtrends",
        description="Study trends on Instagram and recommend posts with a two-tower network.",
    )
    parser.add_argument("--version", action="version", version=f"igtrends {igtrends.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="execute the numbered notebooks in order into a new run folder",
        description=(
            "Execute the notebooks named NN_*.ipynb in name order with papermill. "
            "The executed notebooks go into RUNS_DIR/<UTC timestamp>/, and RUNS_DIR/latest "
            "points at that folder."
        ),
    )
    run.add_argument(
        "--dataset",
        choices=DATASETS,
        default="sample",
        help="data set to study (default: %(default)s)",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="folder of the data set, passed only to notebooks that declare data_dir",
    )
    run.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="number of training epochs, passed only to notebooks that declare epochs",
    )
    run.add_argument("--seed", type=int, default=42, metavar="N", help="random seed (default: 42)")
    run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help=(
            "set a notebook parameter. The value is converted to the type of the "
            "parameter's default. Repeat the option for several parameters."
        ),
    )
    run.add_argument(
        "--notebooks",
        type=Path,
        metavar="DIR",
        help="folder of the notebooks (default: the repository's notebooks/ folder)",
    )
    run.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="folder of the run folders (default: %(default)s)",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="show warnings and errors only, without progress bars",
    )
    run.set_defaults(handler=_run_command)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    return parser


def _parameters_from_pairs(pairs: list[list[str]]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name in parameters:
            raise ConfigurationError(
                f"parameter {name!r} given twice with -p ({parameters[name]!r} and {value!r}): "
                "give it once"
            )
        parameters[name] = value
    return parameters


def _format_value(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def format_metrics_table(metrics: dict) -> str:
    """Format the metrics of a run as a table of models by metric.

    Args:
        metrics: Contents of ``metrics.json``, with a ``models`` entry that maps each
            model name to its metrics, for example ``{"two_tower": {"recall@10": 0.2}}``.

    Returns:
        The table as text, one model per row. A metric a model lacks shows as ``-``.
        Without a ``models`` mapping of mappings, the whole file as indented JSON.
    """
    models = metrics.get("models")
    if not isinstance(models, dict) or not models or not all(
        isinstance(values, dict) for values in models.values()
    ):
        return json.dumps(metrics, indent=2, sort_keys=True)

    # Columns keep the order in which the metrics first appear.
    columns: list[str] = []
    for values in models.values():
        columns.extend(name for name in values if name not in columns)

    rows = [["model", *columns]]
    for model, values in models.items():
        rows.append([model, *(_format_value(values[c]) if c in values else "-" for c in columns)])

    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(width) for cell, width in zip(row[1:], widths[1:]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _run_command(args: argparse.Namespace) -> int:
    result = run_pipeline(
        args.dataset,
        data_dir=args.data_dir,
        epochs=args.epochs,
        seed=args.seed,
        params=_parameters_from_pairs(args.parameters),
        notebooks_dir=args.notebooks,
        runs_dir=args.runs_dir,
        progress=not args.quiet,
    )

    print(f"Run folder: {result.run_dir}")
    print(f"Executed notebooks: {', '.join(path.name for path in result.notebooks)}")
    if result.metrics is not None:
        dataset = result.metrics.get("dataset")
        heading = f"Metrics ({dataset})" if dataset else "Metrics"
        print(f"\n{heading}, from {result.run_dir / 'metrics.json'}:")
        print(format_metrics_table(result.metrics))
    return 0


class _CurrentStderrHandler(logging.StreamHandler):
    """Write to whatever ``sys.stderr`` is at the time of each record.

    A handler bound to the stream object of its creation would keep writing to a
    stream that a caller (a test runner, a notebook) has since replaced and closed.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _configure_logging(quiet: bool) -> None:
    """Log igtrends records at INFO (WARNING when quiet) and other records at WARNING to stderr."""
    root = logging.getLogger()
    if not any(isinstance(handler, _CurrentStderrHandler) for handler in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
        )
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.WARNING:
            root.setLevel(logging.WARNING)
    logging.getLogger("igtrends").setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the igtrends command line.

    Args:
        argv: Arguments without the program name. None means ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 1 when igtrends raised an error, 2 for invalid
        usage and 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # argparse exits after --help, --version and usage errors (status 2).
        code = exit_request.code
        if code is None:
            return 0
        return code if isinstance(code, int) else EXIT_ERROR

    _configure_logging(getattr(args, "quiet", False))
    try:
        return args.handler(args)
    except IgtrendsError as error:
        print(f"igtrends: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("igtrends: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
