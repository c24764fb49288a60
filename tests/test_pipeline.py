"""Tests of the notebook runner, with small notebooks executed by papermill and a real kernel."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from igtrends.errors import ConfigurationError, NotebookExecutionError
from igtrends.pipeline import (
    _first_error,
    _runs_this_interpreter,
    convert_parameter,
    create_run_dir,
    declared_parameters,
    find_notebooks,
    kernel_name_for_this_interpreter,
    run_pipeline,
)


def write_notebook(
    path: Path,
    parameters: str | None,
    cells: list[str],
    *,
    cell_tags: dict[int, list[str]] | None = None,
    parameter_cells: int = 1,
) -> Path:
    """Write a notebook whose first cells are tagged ``parameters``, then the given code cells.

    ``cell_tags`` maps an index into ``cells`` to the tags of that cell.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if parameters is not None:
        for _ in range(parameter_cells):
            cell = nbformat.v4.new_code_cell(parameters)
            cell.metadata["tags"] = ["parameters"]
            notebook.cells.append(cell)
    for index, source in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        if cell_tags and index in cell_tags:
            cell.metadata["tags"] = cell_tags[index]
        notebook.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def injected_values(executed: Path) -> dict:
    """Execute the injected-parameters cell of an executed notebook and return its names."""
    notebook = nbformat.read(executed, as_version=4)
    injected = [
        cell
        for cell in notebook.cells
        if "injected-parameters" in cell.metadata.get("tags", [])
    ]
    assert len(injected) == 1
    namespace: dict = {}
    exec(injected[0].source, namespace)
    namespace.pop("__builtins__")
    return namespace


# Notebook folders --------------------------------------------------------------------


def test_find_notebooks_sorted_and_filtered(tmp_path):
    for name in ["02_b.ipynb", "01_a.ipynb", "10_c.ipynb", "scratch.ipynb", "1_short.ipynb",
                 "03_notes.md"]:
        (tmp_path / name).write_text("{}")
    (tmp_path / "04_folder.ipynb").mkdir()

    found = find_notebooks(tmp_path)

    assert [path.name for path in found] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]


def test_find_notebooks_missing_folder(tmp_path):
    with pytest.raises(ConfigurationError, match="not found"):
        find_notebooks(tmp_path / "absent")


def test_find_notebooks_empty_folder(tmp_path):
    (tmp_path / "analysis.ipynb").write_text("{}")
    with pytest.raises(ConfigurationError, match="no pipeline notebooks") as raised:
        find_notebooks(tmp_path)
    assert str(tmp_path) in str(raised.value)


# Declared parameters and conversion ----------------------------------------------------


def test_declared_parameters_reads_defaults(tmp_path):
    notebook = write_notebook(
        tmp_path / "01_a.ipynb", "seed = 42\nname = 'x'\nrate: float = 1\nflag = True", []
    )

    declared = declared_parameters(notebook)

    assert list(declared) == ["seed", "name", "rate", "flag"]
    assert declared["seed"]["default"] == "42"
    assert declared["rate"]["inferred_type_name"] == "float"


@pytest.mark.parametrize("parameter_cells, found", [(0, "none"), (2, "2 (cells [0, 1])")])
def test_declared_parameters_needs_one_cell(tmp_path, parameter_cells, found):
    notebook = write_notebook(
        tmp_path / "01_a.ipynb", "seed = 1", ["x = 1"], parameter_cells=parameter_cells
    )

    with pytest.raises(ConfigurationError) as raised:
        declared_parameters(notebook)

    message = str(raised.value)
    assert "01_a.ipynb" in message
    assert "exactly one cell tagged 'parameters'" in message
    assert f"found {found}" in message


def test_declared_parameters_invalid_file(tmp_path):
    notebook = tmp_path / "01_a.ipynb"
    notebook.write_text("not json")
    with pytest.raises(ConfigurationError, match="not a valid notebook file"):
        declared_parameters(notebook)


def declaration(default: str, annotation: str = "None") -> dict:
    return {"name": "p", "inferred_type_name": annotation, "default": default, "help": ""}


# Each expected value is the string read as the type of the default (or annotation).
@pytest.mark.parametrize(
    "value, default, annotation, expected",
    [
        ("16", "8", "None", 16),
        ("-3", "0", "None", -3),
        ("0.5", "1.0", "None", 0.5),
        ("2", "1.0", "None", 2.0),
        ("3", "1", "float", 3.0),
        ("true", "False", "None", True),
        ("TRUE", "False", "None", True),
        ("1", "False", "None", True),
        ("false", "True", "None", False),
        ("0", "True", "None", False),
        ("12", "'abc'", "None", "12"),
        ("7", "None", "None", 7),
        ("7.5", "None", "None", 7.5),
        ("seven", "None", "None", "seven"),
        ("5", "Path('x')", "None", 5),
        ("[1, 2]", "[]", "None", [1, 2]),
        ("{'a': 1}", "{}", "None", {"a": 1}),
    ],
)
def test_convert_parameter_to_declared_type(value, default, annotation, expected):
    converted = convert_parameter("p", value, declaration(default, annotation))
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    "value, default, expected_phrase",
    [
        ("3.5", "8", "an integer"),
        ("ten", "8", "an integer"),
        ("fast", "1.0", "a number"),
        ("yes", "False", "true, false, 1 or 0"),
        ("2", "True", "true, false, 1 or 0"),
        ("(1,", "[]", "list literal"),
        ("{'a': 1}", "[]", "list literal"),
    ],
)
def test_convert_parameter_rejects_bad_value(value, default, expected_phrase):
    with pytest.raises(ConfigurationError) as raised:
        convert_parameter("batch", value, declaration(default))

    message = str(raised.value)
    assert repr(value) in message
    assert "'batch'" in message
    assert expected_phrase in message


# Checks before anything runs ---------------------------------------------------------


def test_unknown_parameter_rejected_before_run(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_a.ipynb", "seed = 1\nbatch = 8", ["x = 1"])
    write_notebook(notebooks / "02_b.ipynb", "run_dir = ''\nlimit = 3", ["x = 1"])
    runs = tmp_path / "runs"

    with pytest.raises(ConfigurationError) as raised:
        run_pipeline(
            params={"bacth": "16"}, notebooks_dir=notebooks, runs_dir=runs, project_dir=tmp_path
        )

    message = str(raised.value)
    assert "'bacth'" in message
    assert "batch, limit, run_dir, seed" in message
    assert not runs.exists()


def test_runner_parameter_rejected_as_p(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_a.ipynb", "seed = 1", ["x = 1"])

    with pytest.raises(ConfigurationError, match="--seed"):
        run_pipeline(
            params={"seed": "7"}, notebooks_dir=notebooks, runs_dir=tmp_path / "runs",
            project_dir=tmp_path,
        )
    assert not (tmp_path / "runs").exists()


def test_bad_parameter_value_rejected_before_run(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_a.ipynb", "batch = 8", ["x = 1"])

    with pytest.raises(ConfigurationError, match="invalid value 'big'"):
        run_pipeline(
            params={"batch": "big"}, notebooks_dir=notebooks, runs_dir=tmp_path / "runs",
            project_dir=tmp_path,
        )
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "options, phrase",
    [
        ({"dataset": "movielens"}, "choose one of sample, movielens-100k, instagram"),
        ({"epochs": 0}, "invalid epochs 0"),
        ({"seed": -1}, "invalid seed -1"),
    ],
)
def test_invalid_run_options_rejected(tmp_path, options, phrase):
    with pytest.raises(ConfigurationError, match=phrase):
        run_pipeline(**options, notebooks_dir=tmp_path, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# Run folders ---------------------------------------------------------------------------


def test_create_run_dir_suffix_and_latest(tmp_path):
    runs = tmp_path / "runs"
    moment = datetime(2026, 12, 4, 20, 15, 33, tzinfo=timezone.utc)

    first = create_run_dir(runs, now=moment)
    second = create_run_dir(runs, now=moment)

    assert first == runs / "20261204T201533Z"
    assert second == runs / "20261204T201533Z-2"
    assert first.is_dir()
    assert second.is_dir()
    latest = runs / "latest"
    assert latest.is_symlink()
    assert os.readlink(latest) == "20261204T201533Z-2"
    assert [path.name for path in runs.iterdir() if path.name.startswith(".")] == []


def test_create_run_dir_converts_to_utc(tmp_path):
    # 21:15:33 at UTC+1 is 20:15:33 UTC.
    moment = datetime(2026, 12, 4, 21, 15, 33, tzinfo=timezone(timedelta(hours=1)))
    assert create_run_dir(tmp_path, now=moment).name == "20261204T201533Z"


def test_create_run_dir_rejects_latest_folder(tmp_path):
    (tmp_path / "latest").mkdir()
    with pytest.raises(ConfigurationError, match="not a symbolic link"):
        create_run_dir(tmp_path)


# Failure location ----------------------------------------------------------------------


def test_first_error_maps_index_without_ids():
    # Source: parameters (0), "x = 1" (1), failing cell (2). The executed copy adds an
    # error heading at the top, the injected cell after the parameters and an anchor
    # before the failing cell, so the failing cell sits at executed index 5.
    source = nbformat.v4.new_notebook()
    source.cells = [nbformat.v4.new_code_cell(text) for text in ["a = 1", "x = 1", "1 / 0"]]
    source.cells[0].metadata["tags"] = ["parameters"]

    def cell(tags: list[str], outputs: list | None = None) -> nbformat.NotebookNode:
        node = nbformat.v4.new_code_cell("", outputs=outputs or [])
        node.metadata["tags"] = tags
        return node

    error_output = nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
    )
    executed = nbformat.v4.new_notebook()
    executed.cells = [
        cell(["papermill-error-cell-tag"]),
        cell(["parameters"]),
        cell(["injected-parameters"]),
        cell([]),
        cell(["papermill-error-cell-tag"]),
        cell([], [error_output]),
    ]
    for node in source.cells + executed.cells:
        node.pop("id", None)

    assert _first_error(executed, source) == (2, "ZeroDivisionError", "division by zero")


def test_first_error_none_without_errors():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    assert _first_error(notebook, notebook) is None


# Kernels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["python", "-m", "ipykernel_launcher"], True),
        ([f"python{sys.version_info[0]}", "-m", "ipykernel_launcher"], True),
        ([sys.executable, "-m", "ipykernel_launcher"], True),
        ([str(Path(sys.executable).with_name("python3")), "-m", "ipykernel_launcher"], True),
        (["/opt/other-env/bin/python", "-m", "ipykernel_launcher"], False),
        ([str(Path(sys.executable).with_name("ruby"))], False),
        ([], False),
    ],
)
def test_runs_this_interpreter(argv, expected):
    assert _runs_this_interpreter(argv) is expected


def shadow_kernelspec(folder: Path, name: str) -> None:
    """Write a kernelspec that starts an interpreter outside this environment."""
    spec_dir = folder / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": ["/opt/other-env/bin/python", "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"],
        "display_name": f"shadow {name}",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def test_shadowed_kernelspec_still_rejected(tmp_path, monkeypatch):
    shadow = tmp_path / "shadow"
    shadow_kernelspec(shadow, "python3")
    shadow_kernelspec(shadow, "igtrends")
    prefix = tmp_path / "prefix"
    monkeypatch.setenv(
        "JUPYTER_PATH", os.pathsep.join([str(shadow), str(prefix / "share" / "jupyter")])
    )

    with pytest.raises(ConfigurationError, match="jupyter kernelspec remove igtrends"):
        kernel_name_for_this_interpreter(install_prefix=prefix)

    # The runner installed its own kernelspec, but the shadowing one is found first.
    assert (prefix / "share" / "jupyter" / "kernels" / "igtrends" / "kernel.json").exists()


# Execution with papermill --------------------------------------------------------------


@pytest.mark.slow
def test_two_notebooks_run_in_order(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_first.ipynb",
        "dataset = 'x'\nseed = 0\nepochs = 5\nbatch = 8\nrun_dir = ''\nproject_dir = ''\n"
        "data_dir = ''",
        [
            "import os, pathlib, sys\n"
            "out = pathlib.Path(run_dir)\n"
            "(out / 'order.txt').write_text('01\\n')\n"
            "(out / 'executable.txt').write_text(sys.executable)\n"
            "(out / 'cwd.txt').write_text(os.getcwd())\n"
            "(out / 'batch.txt').write_text(f'{type(batch).__name__} {batch}')",
        ],
    )
    write_notebook(
        notebooks / "02_second.ipynb",
        "run_dir = ''",
        [
            "import json, pathlib\n"
            "out = pathlib.Path(run_dir)\n"
            "order = (out / 'order.txt').read_text()\n"
            "(out / 'order.txt').write_text(order + '02\\n')\n"
            "metrics = {'dataset': 'sample', 'models': {'random': {'recall@10': 0.1}}}\n"
            "(out / 'metrics.json').write_text(json.dumps(metrics))",
        ],
    )
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(tmp_path)

    result = run_pipeline(
        data_dir="data",
        params={"batch": "16"},
        notebooks_dir=notebooks,
        runs_dir="runs",
        project_dir=project,
        progress=False,
    )

    run_dir = result.run_dir
    assert run_dir.parent == project / "runs"
    assert result.notebooks == [run_dir / "01_first.ipynb", run_dir / "02_second.ipynb"]
    assert all(path.exists() for path in result.notebooks)

    # 02 read the line 01 wrote, so the order file shows both in sequence.
    assert (run_dir / "order.txt").read_text() == "01\n02\n"
    assert (run_dir / "executable.txt").read_text() == sys.executable
    assert (run_dir / "cwd.txt").read_text() == str(project)
    # "16" became an int because the declared default 8 is an int.
    assert (run_dir / "batch.txt").read_text() == "int 16"
    assert result.metrics == {"dataset": "sample", "models": {"random": {"recall@10": 0.1}}}

    latest = project / "runs" / "latest"
    assert os.readlink(latest) == run_dir.name
    assert latest.resolve() == run_dir.resolve()

    # epochs was not given, so 01 keeps its default and is not injected. The relative
    # data_dir is taken from the project folder, where the notebooks run.
    assert injected_values(result.notebooks[0]) == {
        "dataset": "sample",
        "seed": 42,
        "batch": 16,
        "run_dir": str(run_dir),
        "project_dir": str(project),
        "data_dir": str(project / "data"),
    }
    assert injected_values(result.notebooks[1]) == {"run_dir": str(run_dir)}


@pytest.mark.slow
def test_failing_cell_stops_sequence(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_fail.ipynb",
        "seed = 0",
        ["x = 1", "raise ValueError('bad value 7')", "y = 2"],
    )
    write_notebook(notebooks / "02_never.ipynb", "seed = 0", ["z = 3"])
    runs = tmp_path / "runs"

    with pytest.raises(NotebookExecutionError) as raised:
        run_pipeline(notebooks_dir=notebooks, runs_dir=runs, project_dir=tmp_path, progress=False)

    error = raised.value
    assert error.notebook == "01_fail.ipynb"
    # Cell 0 is the parameters cell, cell 1 is "x = 1", cell 2 raises.
    assert error.cell_index == 2
    assert error.ename == "ValueError"
    assert error.evalue == "bad value 7"
    assert "01_fail.ipynb" in str(error)

    run_dir = (runs / "latest").resolve()
    # The report of the notebooks that ran is written after a failure too.
    assert sorted(path.name for path in run_dir.glob("*.ipynb")) == ["01_fail.ipynb"]
    executed = nbformat.read(run_dir / "01_fail.ipynb", as_version=4)
    tracebacks = [
        output
        for cell in executed.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert [output.evalue for output in tracebacks] == ["bad value 7"]


@pytest.mark.slow
def test_raises_exception_tag_is_failure(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_tagged.ipynb",
        "seed = 0",
        ["raise RuntimeError('tagged failure')", "after = 1"],
        cell_tags={0: ["raises-exception"]},
    )

    with pytest.raises(NotebookExecutionError) as raised:
        run_pipeline(
            notebooks_dir=notebooks, runs_dir=tmp_path / "runs", project_dir=tmp_path,
            progress=False,
        )

    assert raised.value.notebook == "01_tagged.ipynb"
    assert raised.value.cell_index == 1
    assert raised.value.ename == "RuntimeError"


@pytest.mark.slow
def test_system_exit_zero_is_failure(tmp_path):
    # papermill treats SystemExit(0) as a deliberate stop and returns normally, so
    # only the runner's scan of the executed copy reports it.
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_exit.ipynb", "seed = 0", ["x = 1", "raise SystemExit(0)"])
    write_notebook(notebooks / "02_never.ipynb", "seed = 0", ["z = 3"])
    runs = tmp_path / "runs"

    with pytest.raises(NotebookExecutionError) as raised:
        run_pipeline(notebooks_dir=notebooks, runs_dir=runs, project_dir=tmp_path, progress=False)

    assert raised.value.notebook == "01_exit.ipynb"
    assert raised.value.cell_index == 2
    assert raised.value.ename == "SystemExit"
    assert not ((runs / "latest") / "02_never.ipynb").exists()


@pytest.mark.slow
def test_dead_kernel_names_last_cell(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_die.ipynb", "seed = 0", ["x = 1", "import os\nos._exit(1)", "y = 2"]
    )

    with pytest.raises(NotebookExecutionError) as raised:
        run_pipeline(
            notebooks_dir=notebooks, runs_dir=tmp_path / "runs", project_dir=tmp_path,
            progress=False,
        )

    assert raised.value.notebook == "01_die.ipynb"
    # Cell 2 ends the kernel process, so it is the last cell that started.
    assert raised.value.cell_index == 2
    assert raised.value.ename == "DeadKernelError"


@pytest.mark.slow
def test_shadowed_python3_uses_igtrends_kernel(tmp_path, monkeypatch):
    if (Path(sys.prefix) / "share" / "jupyter" / "kernels" / "igtrends").exists():
        pytest.skip("an igtrends kernelspec is installed in this environment, so none is installed")
    shadow = tmp_path / "shadow"
    shadow_kernelspec(shadow, "python3")
    prefix = tmp_path / "prefix"
    monkeypatch.setenv(
        "JUPYTER_PATH", os.pathsep.join([str(shadow), str(prefix / "share" / "jupyter")])
    )

    assert kernel_name_for_this_interpreter(install_prefix=prefix) == "igtrends"
    spec = json.loads(
        (prefix / "share" / "jupyter" / "kernels" / "igtrends" / "kernel.json").read_text()
    )
    assert spec["argv"][0] == sys.executable

    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_which.ipynb",
        "run_dir = ''",
        ["import pathlib, sys\npathlib.Path(run_dir, 'executable.txt').write_text(sys.executable)"],
    )
    result = run_pipeline(
        notebooks_dir=notebooks, runs_dir=tmp_path / "runs", project_dir=tmp_path,
        progress=False,
    )

    assert (result.run_dir / "executable.txt").read_text() == sys.executable
