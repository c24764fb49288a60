"""Tests of the igtrends command line, in process and as ``python -m igtrends``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from igtrends.cli import format_metrics_table, main


def write_notebook(path: Path, parameters: str, cells: list[str]) -> Path:
    """Write a notebook with one cell tagged ``parameters``, then the given code cells."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameter_cell = nbformat.v4.new_code_cell(parameters)
    parameter_cell.metadata["tags"] = ["parameters"]
    notebook.cells = [parameter_cell, *(nbformat.v4.new_code_cell(source) for source in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture(autouse=True)
def restore_package_log_level():
    """Undo the log level that main sets on the igtrends logger, for the tests that follow."""
    package_logger = logging.getLogger("igtrends")
    level = package_logger.level
    yield
    package_logger.setLevel(level)


def test_bad_dataset_is_usage_error(capsys):
    status = main(["run", "--dataset", "tiktok"])

    assert status == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'tiktok'" in error
    assert "sample" in error


def test_missing_command_is_usage_error(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_help_exits_zero(capsys):
    assert main(["run", "--help"]) == 0
    assert "--runs-dir" in capsys.readouterr().out


def test_unknown_parameter_lists_declared(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_a.ipynb", "seed = 1\nbatch = 8", ["x = 1"])

    status = main(["run", "--notebooks", str(notebooks), "-p", "bach", "16", "--quiet"])

    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith("igtrends: error: unknown parameter 'bach'")
    assert "Declared parameters: batch, seed" in error
    assert not (tmp_path / "runs").exists()


def test_duplicate_parameter_rejected(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_a.ipynb", "batch = 8", ["x = 1"])

    status = main(["run", "--notebooks", str(notebooks), "-p", "batch", "1", "-p", "batch", "2"])

    assert status == 1
    assert "'batch' given twice" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_metrics_table_layout():
    metrics = {
        "dataset": "sample",
        "protocol": {"k": 10},
        "models": {
            "two_tower": {"recall@10": 0.25, "ndcg@10": 0.125},
            "random": {"recall@10": 0.04},
        },
    }

    # Values show 4 decimals. The random model has no ndcg@10, so its cell shows "-".
    assert format_metrics_table(metrics).splitlines() == [
        "model      recall@10  ndcg@10",
        "two_tower     0.2500   0.1250",
        "random        0.0400        -",
    ]


def test_metrics_table_without_models():
    metrics = {"dataset": "sample", "models": ["two_tower"]}
    assert json.loads(format_metrics_table(metrics)) == metrics


@pytest.mark.slow
def test_run_prints_folder_and_metrics(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    notebooks = tmp_path / "notebooks"
    write_notebook(
        notebooks / "01_evaluate.ipynb",
        "run_dir = ''\nepochs = 1\nthreshold = 0.5",
        [
            "import json, pathlib\n"
            "models = {'popularity': {'recall@10': threshold, 'epochs': epochs}}\n"
            "metrics = {'dataset': 'sample', 'protocol': {}, 'models': models}\n"
            "pathlib.Path(run_dir, 'metrics.json').write_text(json.dumps(metrics))",
        ],
    )

    status = main(
        ["run", "--notebooks", str(notebooks), "--runs-dir", "out", "--epochs", "3",
         "-p", "threshold", "0.75", "--quiet"]
    )

    assert status == 0
    output = capsys.readouterr().out
    run_dir = (tmp_path / "out" / "latest").resolve()
    assert f"Run folder: {run_dir}" in output
    assert "Metrics (sample)" in output
    # recall@10 is the -p value 0.75 read as a float, and epochs is the --epochs value 3.
    assert "model       recall@10  epochs" in output
    assert "popularity     0.7500       3" in output


@pytest.mark.slow
def test_failing_notebook_exits_nonzero(tmp_path):
    notebooks = tmp_path / "notebooks"
    write_notebook(notebooks / "01_broken.ipynb", "seed = 0", ["x = 1", "1 / 0"])

    completed = subprocess.run(
        [sys.executable, "-m", "igtrends", "run", "--notebooks", str(notebooks),
         "--runs-dir", str(tmp_path / "runs"), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    assert completed.returncode == 1
    assert "igtrends: error: notebook 01_broken.ipynb failed in cell 2" in completed.stderr
    assert "ZeroDivisionError" in completed.stderr
    assert "Traceback (most recent call last)" not in completed.stderr
    assert completed.stdout == ""
    assert (tmp_path / "runs" / "latest" / "01_broken.ipynb").exists()
