"""Write the HTML report of a run: the narrative, tables and figures of the executed notebooks.

The report contains no code. Code cells keep only their outputs, and outputs on
standard error (log records and progress bars) are left out. Figures are PNG images
embedded in the page as data URIs, so ``report.html`` is one self-contained file. A
figure shown with :func:`igtrends.plots.display_figure` keeps its alternative text.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from igtrends.log import get_logger

__all__ = ["REPORT_NAME", "build_report_notebook", "write_report"]

logger = get_logger("report")

REPORT_NAME = "report.html"
"""File name of the report inside the run folder."""

_HIDDEN_TAGS = {"parameters", "injected-parameters"}


def build_report_notebook(notebooks: Sequence[str | Path]) -> nbformat.NotebookNode:
    """Join executed notebooks into one notebook for the report, in the given order.

    The parameter cells and every stream output on standard error are removed.
    """
    if not notebooks:
        raise ValueError("no executed notebooks to report on: pass at least one path")
    combined = None
    for path in notebooks:
        node = nbformat.read(Path(path), as_version=4)
        if combined is None:
            combined = nbformat.v4.new_notebook(metadata=copy.deepcopy(node.metadata))
        for cell in node.cells:
            if _HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
                continue
            if cell.cell_type == "code":
                cell.outputs = [
                    _with_alt_text(output) for output in cell.get("outputs", [])
                    if not (output.get("output_type") == "stream" and output.get("name") == "stderr")
                ]
                if not cell.outputs:
                    continue
            combined.cells.append(cell)
    return combined


def _with_alt_text(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Turn a PNG output with alternative text into an HTML image that carries it.

    nbconvert's lab template (7.17), which the report uses, ignores the ``alt`` metadata of
    images and gives every image the same placeholder text.
    """
    alt = (output.get("metadata") or {}).get("image/png", {}).get("alt")
    png = (output.get("data") or {}).get("image/png")
    if not alt or not png:
        return output
    image = f'<img src="data:image/png;base64,{html.escape(png.strip())}" alt="{html.escape(alt)}">'
    return nbformat.v4.new_output(output["output_type"], data={"text/html": image}, metadata={})


def write_report(
    run_dir: str | Path, notebooks: Sequence[str | Path], title: str | None = None
) -> Path:
    """Write ``run_dir/report.html`` from executed notebooks, without code cells.

    Args:
        run_dir: The run folder.
        notebooks: Executed notebooks, in the order the report shows them.
        title: Page title. None means "igtrends run <run folder name>".

    Returns:
        Path of the written report.

    Raises:
        ValueError: ``notebooks`` is empty.
    """
    run_dir = Path(run_dir)
    combined = build_report_notebook(notebooks)
    combined.metadata["title"] = title or f"igtrends run {run_dir.name}"
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(combined)
    path = run_dir / REPORT_NAME
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(body, encoding="utf-8")
    temporary.replace(path)
    logger.info("wrote report %s from %d notebooks", path, len(notebooks))
    return path
