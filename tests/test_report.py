"""The HTML report: outputs and narrative of executed notebooks, without code."""

from __future__ import annotations

import base64

import nbformat
from bs4 import BeautifulSoup

from igtrends.report import write_report

# A 1x1 PNG, enough to check that images are embedded.
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)).decode()


def executed_notebook(path):
    code = nbformat.v4.new_code_cell("secret_code_line = 1\nshow()")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("stream", name="stderr", text="INFO noisy log record"),
        nbformat.v4.new_output("stream", name="stdout", text="Skipped genres: no items table."),
    ]
    parameters = nbformat.v4.new_code_cell("dataset = 'x'")
    parameters.metadata["tags"] = ["parameters"]
    cells = [nbformat.v4.new_markdown_cell("# Explore heading"), parameters, code]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_report_has_figures_not_code(tmp_path):
    notebook = executed_notebook(tmp_path / "02_explore.ipynb")
    html = write_report(tmp_path, [notebook]).read_text(encoding="utf-8")
    assert "Explore heading" in html
    assert f"data:image/png;base64,{PIXEL}" in html
    assert "Skipped genres" in html
    assert "secret_code_line" not in html
    assert "dataset = " not in html
    assert "noisy log record" not in html


def test_report_keeps_alt_text_of_figures(tmp_path):
    code = nbformat.v4.new_code_cell("show()")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": PIXEL, "text/plain": "<Figure>"},
            metadata={"image/png": {"alt": 'Panel "Loss": horizontal axis epoch.'}},
        )
    ]
    path = tmp_path / "04_evaluate.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[code]), path)
    html = write_report(tmp_path, [path]).read_text(encoding="utf-8")
    images = BeautifulSoup(html, "html.parser").find_all("img")
    assert len(images) == 1
    assert images[0]["src"] == f"data:image/png;base64,{PIXEL}"
    # The quotes inside the text survive the attribute's escaping.
    assert images[0]["alt"] == 'Panel "Loss": horizontal axis epoch.'
