"""The numbered notebooks, run end to end by the pipeline runner on tiny inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from igtrends.cli import main
from igtrends.paths import StudyPaths
from igtrends.pipeline import run_pipeline
from igtrends.tables import read_tables

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MOVIELENS = SHARED_DATA / "movielens-100k"
FAKE_KEY = "fake-key-7f3c9a1e-must-not-leak"

TINY_SAMPLE = {
    "sample_users": "200",
    "sample_posts": "400",
    "sample_engagements": "4000",
}


def files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


@pytest.mark.slow
def test_sample_sequence_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    result = run_pipeline(
        "sample",
        epochs=2,
        params=TINY_SAMPLE,
        notebooks_dir=REPO / "notebooks",
        runs_dir=tmp_path / "runs",
        project_dir=tmp_path,
        progress=False,
    )

    executed = sorted(path.name for path in result.run_dir.glob("*.ipynb"))
    assert executed == ["01_collect.ipynb", "02_explore.ipynb", "03_train.ipynb", "04_evaluate.ipynb"]
    assert (tmp_path / "runs" / "latest").resolve() == result.run_dir.resolve()

    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["dataset"] == "sample"
    assert set(metrics["models"]) == {"two_tower", "popularity", "random"}
    for model in metrics["models"].values():
        assert 0.0 <= model["recall@10"] <= 1.0
        assert 0.0 <= model["ndcg@10"] <= 1.0
    # 200 users with at least ten engagements each all have test items.
    assert metrics["models"]["two_tower"]["users_evaluated"] == 200
    assert metrics["protocol"]["test_fraction"] == 0.2

    # The tables hold the tiny world alone, with nothing left from another sample.
    tables = read_tables(tmp_path / "data" / "processed" / "sample")
    assert len(tables["users"]) == 200
    assert len(tables["posts"]) == 400

    figures = list((tmp_path / "figures").rglob("*.png"))
    assert len(figures) >= 5
    # Every figure in the report has alternative text for screen readers.
    report = (result.run_dir / "report.html").read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*>", report)
    assert len(images) == len(figures)
    assert all(re.search(r'alt="(Chart|Panel)[^"]+"', image) for image in images)
    for stage in ("raw", "processed"):
        assert any((tmp_path / "data" / stage / "sample").iterdir())

    # The key was set for the whole run and must appear in no file it wrote.
    assert files_containing(tmp_path, FAKE_KEY.encode()) == []


@pytest.mark.slow
def test_movielens_sequence_end_to_end(tmp_path):
    if not (MOVIELENS / "u.data").exists():
        pytest.skip(f"MovieLens 100K not found at {MOVIELENS}")
    result = run_pipeline(
        "movielens-100k",
        data_dir=MOVIELENS,
        epochs=1,
        notebooks_dir=REPO / "notebooks",
        runs_dir=tmp_path / "runs",
        project_dir=tmp_path,
        progress=False,
    )
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["protocol"]["test_fraction"] == 0.25
    assert metrics["protocol"]["n_users"] == 943
    assert metrics["protocol"]["n_items"] == 1682
    # Popularity on this protocol is a property of the split alone, about 0.25 NDCG@10.
    assert 0.2 < metrics["models"]["popularity"]["ndcg@10"] < 0.3
    assert metrics["models"]["two_tower"]["users_evaluated"] == 943
    assert not (tmp_path / "data" / "external").exists()


@pytest.mark.slow
def test_failing_notebook_exits_nonzero(tmp_path, monkeypatch, capsys):
    # A data folder without MovieLens files makes the collection notebook raise.
    monkeypatch.chdir(tmp_path)
    status = main(["run", "--dataset", "movielens-100k", "--data-dir", str(tmp_path / "absent"),
                   "--notebooks", str(REPO / "notebooks"), "--quiet"])
    assert status == 1
    message = capsys.readouterr().err
    assert "01_collect.ipynb" in message
    assert "cell" in message
    assert not (tmp_path / "runs" / "latest" / "02_explore.ipynb").exists()


def test_clear_sample_only_for_sample(tmp_path):
    with pytest.raises(ValueError, match="sample only"):
        StudyPaths.create(tmp_path, "instagram").clear_sample()


def test_clear_sample_removes_generated_files(tmp_path):
    paths = StudyPaths.create(tmp_path, "sample")
    for folder in (paths.sample_dir, paths.raw_dir, paths.processed_dir):
        folder.mkdir(parents=True)
        (folder / "file.json").write_text("{}")
    paths.clear_sample()
    assert not paths.sample_dir.exists()
    assert not paths.raw_dir.exists()
    assert (paths.processed_dir / "file.json").exists()
