"""Run the numbered notebooks of the study in order with papermill, into a run folder.

A run executes every ``NN_*.ipynb`` notebook of a folder in name order. Each executed
copy, with its outputs, goes into ``runs/<UTC timestamp>/`` and ``runs/latest`` is a
relative symbolic link to the newest run folder. The runner checks every parameter
before it executes the first notebook, and it stops at the first notebook that fails.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

import igtrends
from igtrends.errors import ConfigurationError, IgtrendsError, NotebookExecutionError
from igtrends.log import get_logger

logger = get_logger("pipeline")

DATASETS: tuple[str, ...] = ("sample", "movielens-100k", "instagram")
"""Data sets a run can use."""

KERNEL_NAME = "igtrends"
"""Name of the kernelspec that the runner installs when no kernelspec runs this interpreter."""

NOTEBOOK_NAME = re.compile(r"^\d{2}_.+\.ipynb$")
"""File names of pipeline notebooks: two digits, an underscore, a name."""

RUNNER_PARAMETERS: dict[str, str] = {
    "dataset": "--dataset (run_pipeline(dataset=...))",
    "data_dir": "--data-dir (run_pipeline(data_dir=...))",
    "epochs": "--epochs (run_pipeline(epochs=...))",
    "seed": "--seed (run_pipeline(seed=...))",
    "run_dir": "the runner, which sets it to the run folder",
    "project_dir": "the runner, which sets it to the project folder",
}
"""Parameters the runner supplies, each with the option that sets it."""

# Cells that papermill adds to an executed notebook and that the source notebook lacks.
_INJECTED_TAG = "injected-parameters"
_ERROR_MARKER_TAG = "papermill-error-cell-tag"

# Interpreter names that jupyter_client replaces with sys.executable when it starts a
# kernel (KernelManager.format_kernel_cmd in jupyter_client 8.10).
_RELATIVE_PYTHON_NAMES = frozenset(
    {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
)


@dataclass(frozen=True)
class RunResult:
    """Outcome of a pipeline run.

    Attributes:
        run_dir: Absolute path of the run folder.
        notebooks: Executed notebooks in the run folder, in execution order.
        metrics: Contents of ``run_dir/metrics.json``, or None when no notebook wrote it.
    """

    run_dir: Path
    notebooks: list[Path]
    metrics: dict | None


def default_notebooks_dir() -> Path:
    """Return the repository's ``notebooks/`` folder, or ``./notebooks`` outside a checkout.

    With an editable install the package lives in ``<repo>/src/igtrends``, so the
    repository's notebooks are two levels above the package folder.
    """
    repository_notebooks = Path(igtrends.__file__).resolve().parents[2] / "notebooks"
    if repository_notebooks.is_dir():
        return repository_notebooks
    return Path.cwd() / "notebooks"


def find_notebooks(folder: str | Path | None = None) -> list[Path]:
    """List the pipeline notebooks of a folder in execution order.

    Args:
        folder: Folder to search. None means :func:`default_notebooks_dir`.

    Returns:
        Paths of the files named ``NN_*.ipynb`` (two digits first), sorted by name.

    Raises:
        ConfigurationError: The folder does not exist or contains no pipeline notebook.
    """
    folder = default_notebooks_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        raise ConfigurationError(
            f"notebook folder {str(folder)!r} not found: pass an existing folder with --notebooks"
        )

    notebooks = sorted(
        path for path in folder.iterdir() if path.is_file() and NOTEBOOK_NAME.match(path.name)
    )
    if not notebooks:
        raise ConfigurationError(
            f"no pipeline notebooks in {str(folder)!r}: expected files named NN_name.ipynb, "
            "for example 01_collect.ipynb"
        )
    return notebooks


def _read_notebook(notebook: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(notebook, as_version=4)
    except FileNotFoundError:
        raise ConfigurationError(f"notebook {str(notebook)!r} not found") from None
    except (nbformat.reader.NotJSONError, nbformat.ValidationError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"notebook {str(notebook)!r} is not a valid notebook file ({error}): "
            "open and save it again in JupyterLab"
        ) from error


def declared_parameters(notebook: str | Path) -> dict[str, dict]:
    """Read the parameters a notebook declares in its cell tagged ``parameters``.

    Args:
        notebook: Path of the notebook.

    Returns:
        For each parameter name, papermill's description of it: ``name``,
        ``inferred_type_name`` (from a type annotation, "None" when there is none),
        ``default`` (the source text of the default value) and ``help``.

    Raises:
        ConfigurationError: The file is not a notebook, or it does not have exactly
            one cell tagged ``parameters``.
    """
    notebook = Path(notebook)
    node = _read_notebook(notebook)

    tagged = [
        index
        for index, cell in enumerate(node.cells)
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(tagged) != 1:
        found = f"{len(tagged)} (cells {tagged})" if tagged else "none"
        raise ConfigurationError(
            f"notebook {notebook.name} must have exactly one cell tagged 'parameters', found "
            f"{found}: tag the single cell that assigns the notebook's parameters"
        )

    try:
        return papermill.inspect_notebook(notebook)
    except ValueError as error:
        # papermill raises ValueError when the notebook metadata names no kernel.
        raise ConfigurationError(
            f"cannot read the parameters of notebook {notebook.name}: {error}. "
            "Open it in JupyterLab, select a Python kernel and save it."
        ) from error


def _declared_type(declaration: dict) -> type | None:
    """Return the type of a declared parameter, or None when it is unknown or None."""
    builtin_types = {"int": int, "float": float, "bool": bool, "str": str}
    annotation = declaration.get("inferred_type_name", "None")
    if annotation in builtin_types:
        return builtin_types[annotation]

    try:
        default = ast.literal_eval(declaration.get("default", ""))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if default is None:
        return None
    return type(default)


def convert_parameter(name: str, value: str, declaration: dict) -> Any:
    """Convert a parameter value given as a string to the type the notebook declares.

    The declared type comes from the parameter's annotation, else from the type of
    its default value. Booleans accept true, false, 1 and 0 in any case. Lists,
    tuples and dicts accept a Python literal such as ``[1, 2]``. A parameter whose
    default is None or not a literal takes an int when the value reads as one, else
    a float, else the string itself.

    Args:
        name: Parameter name, used in error messages.
        value: Value as given on the command line.
        declaration: The parameter's entry from :func:`declared_parameters`.

    Returns:
        The converted value.

    Raises:
        ConfigurationError: The value cannot be converted to the declared type.
    """
    target = _declared_type(declaration)

    def invalid(expected: str) -> ConfigurationError:
        return ConfigurationError(
            f"invalid value {value!r} for parameter {name!r}: expected {expected} "
            f"(declared default: {declaration.get('default')})"
        )

    if target is bool:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid("true, false, 1 or 0")

    if target is int:
        try:
            return int(value)
        except ValueError:
            raise invalid("an integer") from None

    if target is float:
        try:
            return float(value)
        except ValueError:
            raise invalid("a number") from None

    if target is str:
        return value

    if target in (list, tuple, dict):
        try:
            converted = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            converted = None
        if not isinstance(converted, target):
            raise invalid(f"a Python {target.__name__} literal")
        return converted

    if target is None:
        for candidate in (int, float):
            try:
                return candidate(value)
            except ValueError:
                continue
        return value

    raise ConfigurationError(
        f"parameter {name!r} has a default of type {target.__name__}, "
        "which cannot be set from the command line: change its default in the notebook"
    )


def _convert_user_parameters(
    params: dict[str, str], declarations: dict[Path, dict[str, dict]]
) -> dict[Path, dict[str, Any]]:
    """Check ``-p`` parameters against the notebooks and convert them per notebook."""
    declared_names = sorted({name for names in declarations.values() for name in names})
    converted: dict[Path, dict[str, Any]] = {notebook: {} for notebook in declarations}

    for name, value in params.items():
        if name in RUNNER_PARAMETERS:
            raise ConfigurationError(
                f"parameter {name!r} cannot be set with -p: it is set by {RUNNER_PARAMETERS[name]}"
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"parameter {name!r} has value {value!r} of type {type(value).__name__}: "
                "pass parameter values as strings, as on the command line"
            )

        declaring = [notebook for notebook, names in declarations.items() if name in names]
        if not declaring:
            raise ConfigurationError(
                f"unknown parameter {name!r}: no notebook declares it. "
                f"Declared parameters: {', '.join(declared_names) or 'none'}"
            )

        # Each notebook gets the value converted to its own declared type.
        for notebook in declaring:
            converted[notebook][name] = convert_parameter(name, value, declarations[notebook][name])

    return converted


def _runs_this_interpreter(argv: list[str]) -> bool:
    """Return True when a kernelspec command starts the interpreter that runs this process."""
    if not argv:
        return False
    command = argv[0]
    if command in _RELATIVE_PYTHON_NAMES:
        return True

    # Symbolic links are not followed: a virtual environment's python is a link to
    # the base interpreter, and starting the base interpreter loses the environment.
    command_path = os.path.abspath(command)
    this_path = os.path.abspath(sys.executable)
    same_folder = os.path.dirname(command_path) == os.path.dirname(this_path)
    return command_path == this_path or (
        same_folder and os.path.basename(command_path) in _RELATIVE_PYTHON_NAMES
    )


def kernel_name_for_this_interpreter(install_prefix: str | Path | None = None) -> str:
    """Find or install a Jupyter kernel that runs the interpreter running igtrends.

    The kernelspec ``python3`` usually does, but a ``python3`` kernelspec of another
    environment can shadow it. In that case the runner uses the kernelspec
    ``igtrends`` and installs it into ``install_prefix`` when it is missing.

    Args:
        install_prefix: Prefix to install the kernelspec into. None means sys.prefix.

    Returns:
        The kernel name to pass to papermill.

    Raises:
        ConfigurationError: The installed ``igtrends`` kernelspec is shadowed by one
            that starts another interpreter.
    """
    manager = KernelSpecManager()
    for name in ("python3", KERNEL_NAME):
        try:
            spec = manager.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        if _runs_this_interpreter(spec.argv):
            return name
        logger.debug("kernelspec %s in %s starts %s, not %s", name, spec.resource_dir,
                     spec.argv[:1], sys.executable)

    # Imported here because only this rare path needs it.
    from ipykernel.kernelspec import install

    prefix = str(install_prefix) if install_prefix is not None else sys.prefix
    location = install(
        kernel_name=KERNEL_NAME, display_name="Python 3 (igtrends)", prefix=prefix
    )
    logger.info("installed kernelspec %s for %s into %s", KERNEL_NAME, sys.executable, location)

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    if not _runs_this_interpreter(spec.argv):
        raise ConfigurationError(
            f"kernelspec {KERNEL_NAME!r} in {spec.resource_dir} starts {spec.argv[0]!r}, not "
            f"{sys.executable!r}: remove that kernelspec with "
            f"'jupyter kernelspec remove {KERNEL_NAME}' and run again"
        )
    return KERNEL_NAME


def _update_latest_link(runs_dir: Path, run_dir: Path) -> None:
    """Point ``runs_dir/latest`` at ``run_dir`` with a relative link, replaced atomically."""
    latest = runs_dir / "latest"
    temporary = runs_dir / f".latest.{os.getpid()}.tmp"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(run_dir.name, target_is_directory=True)
    # os.replace renames over an existing link in one step, so readers of
    # runs/latest never find it missing.
    os.replace(temporary, latest)


def create_run_dir(runs_dir: str | Path, now: datetime | None = None) -> Path:
    """Create a run folder named by the UTC time and point ``latest`` at it.

    Args:
        runs_dir: Folder that contains the run folders. It is created when missing.
        now: Time to name the folder by. None means the current time.

    Returns:
        Absolute path of the new run folder, for example ``runs/20261204T201533Z``.
        When that folder exists, a suffix ``-2``, ``-3``, ... makes the name unique.

    Raises:
        ConfigurationError: ``runs_dir/latest`` exists and is not a symbolic link.
    """
    runs_dir = Path(runs_dir).absolute()
    latest = runs_dir / "latest"
    if latest.exists() and not latest.is_symlink():
        raise ConfigurationError(
            f"{str(latest)!r} exists and is not a symbolic link, so it cannot point at the "
            "newest run: rename or remove it"
        )

    runs_dir.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(timezone.utc)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

    suffix = 1
    while True:
        name = stamp if suffix == 1 else f"{stamp}-{suffix}"
        run_dir = runs_dir / name
        try:
            run_dir.mkdir()
        except FileExistsError:
            suffix += 1
            continue
        break

    _update_latest_link(runs_dir, run_dir)
    return run_dir


def _source_index(
    executed: nbformat.NotebookNode, position: int, source: nbformat.NotebookNode
) -> int | None:
    """Map a cell position in an executed notebook to its index in the source notebook.

    Returns None when the cell cannot be matched to a source cell.
    """
    cell_id = executed.cells[position].get("id")
    for index, cell in enumerate(source.cells):
        if cell_id and cell.get("id") == cell_id:
            return index

    # Without a matching cell id, count back the cells papermill added. A new
    # injected-parameters cell replaces an old one in place.
    before = [cell.get("metadata", {}).get("tags", []) for cell in executed.cells[:position]]
    index = position - sum(_ERROR_MARKER_TAG in tags for tags in before)
    source_has_injected = any(
        _INJECTED_TAG in cell.get("metadata", {}).get("tags", []) for cell in source.cells
    )
    if any(_INJECTED_TAG in tags for tags in before) and not source_has_injected:
        index -= 1
    return index if 0 <= index < len(source.cells) else None


def _first_error(
    executed: nbformat.NotebookNode, source: nbformat.NotebookNode
) -> tuple[int | None, str, str] | None:
    """Find the first error output of an executed notebook.

    Returns:
        None when no cell has an error output. Otherwise the failing cell's index in
        the source notebook (see :func:`_source_index`), the error name and the error value.
    """
    for position, cell in enumerate(executed.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                index = _source_index(executed, position, source)
                return index, output.get("ename", "Error"), output.get("evalue", "")
    return None


def _last_started_cell(
    executed: nbformat.NotebookNode, source: nbformat.NotebookNode
) -> int | None:
    """Return the source index of the last cell papermill started, or None.

    When the kernel dies or a cell times out, no error output is recorded, and
    papermill leaves the cells after the interrupted one without a start time.
    """
    started = [
        position
        for position, cell in enumerate(executed.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return _source_index(executed, started[-1], source) if started else None


def _execute_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    kernel_name: str,
    project_dir: Path,
    progress: bool,
) -> None:
    """Execute one notebook with papermill and raise NotebookExecutionError if any cell failed."""
    source = _read_notebook(notebook)
    try:
        papermill.execute_notebook(
            notebook,
            output,
            parameters=parameters,
            kernel_name=kernel_name,
            language="python",
            cwd=project_dir,
            progress_bar=progress,
            log_output=False,
        )
    except PapermillExecutionError as error:
        failure = _first_error(nbformat.read(output, as_version=4), source)
        if failure is None:
            failure = (None, error.ename, error.evalue)
        raise NotebookExecutionError(notebook.name, *failure) from None
    except (DeadKernelError, CellTimeoutError) as error:
        cell_index = None
        if output.exists():
            cell_index = _last_started_cell(nbformat.read(output, as_version=4), source)
        raise NotebookExecutionError(
            notebook.name, cell_index, type(error).__name__, str(error)
        ) from error

    # papermill returns normally for some recorded errors, for example SystemExit(0),
    # so the executed copy is checked for any error output.
    failure = _first_error(nbformat.read(output, as_version=4), source)
    if failure is not None:
        raise NotebookExecutionError(notebook.name, *failure)


def _read_metrics(run_dir: Path) -> dict | None:
    path = run_dir / "metrics.json"
    if not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IgtrendsError(
            f"{str(path)!r} is not valid JSON ({error}): fix the notebook that writes it. "
            "The executed notebooks stay in the run folder."
        ) from error
    if not isinstance(metrics, dict):
        raise IgtrendsError(
            f"{str(path)!r} contains a {type(metrics).__name__}, expected a JSON object"
        )
    return metrics


def _check_run_options(dataset: str, epochs: int | None, seed: int) -> None:
    if dataset not in DATASETS:
        raise ConfigurationError(
            f"invalid dataset {dataset!r}: choose one of {', '.join(DATASETS)}"
        )
    epochs_valid = isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 1
    if epochs is not None and not epochs_valid:
        raise ConfigurationError(f"invalid epochs {epochs!r}: expected an integer of at least 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigurationError(f"invalid seed {seed!r}: expected a non-negative integer")


def _write_run_report(run_dir: Path, notebooks: list[Path]) -> None:
    """Write ``run_dir/report.html`` from the executed notebooks that exist.

    A report that cannot be written is logged and does not fail the run, because the
    executed notebooks stay in the run folder either way.
    """
    from igtrends.report import write_report

    existing = [path for path in notebooks if path.exists()]
    if not existing:
        return
    try:
        write_report(run_dir, existing)
    except (OSError, ValueError, nbformat.ValidationError) as error:
        logger.error("report of %s not written: %s", run_dir, error)


def run_pipeline(
    dataset: str = "sample",
    *,
    data_dir: str | Path | None = None,
    epochs: int | None = None,
    seed: int = 42,
    params: dict[str, str] | None = None,
    notebooks_dir: str | Path | None = None,
    runs_dir: str | Path = Path("runs"),
    project_dir: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Execute the pipeline notebooks in order into a new run folder.

    Each notebook receives only the parameters it declares, out of ``dataset``,
    ``data_dir`` and ``epochs`` (when given), ``seed``, ``run_dir`` and
    ``project_dir`` (both absolute paths as strings) and the entries of ``params``.
    All parameters are checked before the first notebook runs.

    Args:
        dataset: Data set to use, one of :data:`DATASETS`.
        data_dir: Folder of the data set, passed only when given. A relative path is
            taken relative to ``project_dir``.
        epochs: Training epochs. Passed only when given.
        seed: Random seed.
        params: Extra parameters as strings, each converted to the type of the
            declaring notebook's default (see :func:`convert_parameter`).
        notebooks_dir: Folder of the notebooks. None means :func:`default_notebooks_dir`.
        runs_dir: Folder of the run folders. A relative path is taken relative to
            ``project_dir``.
        project_dir: Working directory of the notebooks. None means the current directory.
        progress: Show a progress bar of the cells of each notebook.

    Returns:
        The run folder, the executed notebooks and the metrics from ``metrics.json``.

    Raises:
        ConfigurationError: An option or parameter is invalid, or no notebook was found.
        NotebookExecutionError: A cell failed. Later notebooks do not run, and the
            executed copy with the traceback stays in the run folder.
        IgtrendsError: ``metrics.json`` is not a JSON object.
    """
    _check_run_options(dataset, epochs, seed)
    project_dir = Path.cwd() if project_dir is None else Path(project_dir).absolute()
    if not project_dir.is_dir():
        raise ConfigurationError(f"project folder {str(project_dir)!r} not found")
    runs_dir = Path(runs_dir)
    if not runs_dir.is_absolute():
        runs_dir = project_dir / runs_dir

    notebooks = find_notebooks(notebooks_dir)
    declarations = {notebook: declared_parameters(notebook) for notebook in notebooks}
    user_parameters = _convert_user_parameters(dict(params or {}), declarations)

    declared_names = {name for names in declarations.values() for name in names}
    for name, value in (("data_dir", data_dir), ("epochs", epochs)):
        if value is not None and name not in declared_names:
            logger.warning("no notebook declares %s, so the value %r has no effect", name, value)

    kernel_name = kernel_name_for_this_interpreter()
    run_dir = create_run_dir(runs_dir)
    logger.info("run folder %s, kernel %s, %d notebooks", run_dir, kernel_name, len(notebooks))

    supplied: dict[str, Any] = {
        "dataset": dataset,
        "seed": seed,
        "run_dir": str(run_dir),
        "project_dir": str(project_dir),
    }
    if data_dir is not None:
        # The notebooks run in project_dir, so a relative data_dir is taken from there.
        supplied["data_dir"] = str(project_dir / Path(data_dir).expanduser())
    if epochs is not None:
        supplied["epochs"] = epochs

    executed: list[Path] = []
    for notebook in notebooks:
        declared = declarations[notebook]
        parameters = {name: value for name, value in supplied.items() if name in declared}
        parameters.update(user_parameters[notebook])
        output = run_dir / notebook.name

        logger.info("notebook %s started", notebook.name)
        started = time.perf_counter()
        try:
            _execute_notebook(
                notebook,
                output,
                parameters,
                kernel_name=kernel_name,
                project_dir=project_dir,
                progress=progress,
            )
        except NotebookExecutionError:
            elapsed = time.perf_counter() - started
            logger.error(
                "notebook %s failed after %.1f s, the executed copy is %s",
                notebook.name,
                elapsed,
                output,
            )
            _write_run_report(run_dir, [*executed, output])
            raise
        logger.info("notebook %s finished in %.1f s", notebook.name, time.perf_counter() - started)
        executed.append(output)

    _write_run_report(run_dir, executed)
    return RunResult(run_dir=run_dir, notebooks=executed, metrics=_read_metrics(run_dir))
