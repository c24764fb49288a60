"""Tests of ``igtrends collect`` against a local server, including a crawl killed with SIGKILL."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from api_server import RecordedAPI, base_url, local_server, local_server_process  # noqa: F401

from igtrends.cli import main
from igtrends.sample import generate_sample
from igtrends.tables import read_tables

FAKE_KEY = "fake-key-collect-5b71c0e9"
SMALL = {"n_users": 20, "n_posts": 40, "n_engagements": 260, "n_topics": 3}
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_collect.ipynb"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("sample"), seed=7, **SMALL)


@pytest.fixture
def api(local_server, sample):  # noqa: F811
    recorded = RecordedAPI(sample.folder)
    local_server.expect_request(re.compile(".*")).respond_with_handler(recorded)
    recorded.url = base_url(local_server)
    return recorded


@pytest.fixture(autouse=True)
def restore_root_handlers():
    """Remove the stderr handler that ``main`` installs, because pytest closes that stream."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)


def collect_args(api, sample, folder, *extra):
    args = ["collect", "--base-url", api.url, "--raw-dir", str(folder / "raw"),
            "--tables-dir", str(folder / "tables"), "--requests-per-second", "1000",
            "--env-file", str(folder / "absent.env"), "--quiet"]  # fmt: skip
    for query in sample.queries:
        args += ["--query", query]
    for username in sample.usernames:
        args += ["--username", username]
    return args + list(extra)


def files_under(folder):
    return [path for path in Path(folder).rglob("*") if path.is_file()]


def test_help_lists_options(capsys):
    assert main(["collect", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--query", "--hashtag", "--username", "--max-calls", "--max-pages", "--raw-dir",
                   "--tables-dir", "--refresh", "--requests-per-second", "--env-file"):  # fmt: skip
        assert option in text


def test_missing_key_fails_before_any_request(api, sample, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
    status = main(collect_args(api, sample, tmp_path))
    assert status == 1
    assert "export RAPIDAPI_KEY=" in capsys.readouterr().err
    assert api.count() == 0
    assert not (tmp_path / "raw").exists()


def test_invalid_option_names_value(api, sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    assert main(collect_args(api, sample, tmp_path, "--max-pages", "0")) == 1
    assert "--max-pages must be at least 1, got 0" in capsys.readouterr().err
    assert api.count() == 0


def test_collect_writes_tables_and_rerun_is_free(api, sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    assert main(collect_args(api, sample, tmp_path)) == 0
    assert api.count() == sample.n_files
    first = read_tables(tmp_path / "tables")
    assert len(first["users"]) == sample.n_users
    assert len(first["posts"]) == sample.n_posts

    assert main(collect_args(api, sample, tmp_path)) == 0
    assert api.count() == sample.n_files  # the second run sent no request
    assert "calls: 0 (retries: 0), cache hits: " + str(sample.n_files) in capsys.readouterr().out

    assert main(collect_args(api, sample, tmp_path, "--refresh")) == 0
    assert api.count() == 2 * sample.n_files  # --refresh fetches each response once more


def test_failed_request_gives_exit_status_1(api, sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    api.inject("post_likers", "html")
    assert main(collect_args(api, sample, tmp_path)) == 1
    out = capsys.readouterr().out
    assert "1 request(s) failed" in out
    assert (tmp_path / "tables" / "users.parquet").exists()


def test_key_appears_nowhere(api, sample, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    caplog.set_level(logging.DEBUG)
    api.inject("user_info", "500")
    api.inject("post_likers", "html")
    api.inject("post_comments", "truncated")
    main(collect_args(api, sample, tmp_path))
    captured = capsys.readouterr()

    # The key did reach the server, so the test would notice if it were lost.
    assert api.count() > 0
    for path in files_under(tmp_path):
        assert FAKE_KEY.encode() not in path.read_bytes(), path
    assert FAKE_KEY not in captured.out
    assert FAKE_KEY not in captured.err
    assert FAKE_KEY not in caplog.text
    assert "request failed" in caplog.text


def _run_killed(args, api, kill_at, env):
    """Run ``igtrends collect`` in a subprocess and SIGKILL it at server request ``kill_at``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "igtrends", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def kill(number):
        if number == kill_at:
            os.kill(process.pid, signal.SIGKILL)

    api.on_request = kill
    try:
        process.wait(timeout=60)
    finally:
        api.on_request = None
    return process.returncode


def test_killed_crawl_resumes_to_same_tables(api, sample, tmp_path, monkeypatch):
    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    env = {**os.environ, "RAPIDAPI_KEY": FAKE_KEY}
    resumed = tmp_path / "resumed"
    args = collect_args(api, sample, resumed)

    # Killed twice: among the searches and profiles, then among the likers and comments.
    assert _run_killed(args, api, kill_at=9, env=env) == -signal.SIGKILL
    stored_after_first = len(list((resumed / "raw").rglob("*.json")))
    assert 0 < stored_after_first < 9
    assert not (resumed / "tables").exists()
    assert _run_killed(args, api, kill_at=9 + 40, env=env) == -signal.SIGKILL
    finished = subprocess.run([sys.executable, "-m", "igtrends", *args], env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    # Each response was fetched at most once more than stored: the two killed requests.
    assert api.count() <= sample.n_files + 2
    requests_sent = api.count()

    uninterrupted = tmp_path / "uninterrupted"
    assert main(collect_args(api, sample, uninterrupted)) == 0
    assert api.count() - requests_sent == sample.n_files

    expected = read_tables(uninterrupted / "tables")
    tables = read_tables(resumed / "tables")
    for name, table in expected.items():
        pd.testing.assert_frame_equal(tables[name], table, obj=name)
    keys = {"users": ["user_id"], "posts": ["post_id"], "hashtags": ["post_id", "hashtag"],
            "engagements": ["user_id", "post_id", "kind"]}  # fmt: skip
    for name, columns in keys.items():
        assert not tables[name].duplicated(columns).any(), name

    raw_files = files_under(resumed / "raw")
    assert len(raw_files) == sample.n_files
    assert [path for path in files_under(resumed) if path.name.endswith(".tmp")] == []
    for path in raw_files:
        json.loads(path.read_bytes())  # every file is complete JSON


@pytest.mark.slow
def test_key_not_in_executed_notebook(api, sample, tmp_path, monkeypatch):
    if not NOTEBOOK.exists():
        pytest.skip(f"collect notebook not found at {NOTEBOOK}")
    from igtrends.pipeline import run_pipeline

    monkeypatch.setenv("RAPIDAPI_KEY", FAKE_KEY)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOK, notebooks / NOTEBOOK.name)
    params = {"seed_queries": repr(list(sample.queries)), "seed_usernames": repr(list(sample.usernames)),
              "api_base_url": api.url}
    result = run_pipeline("instagram", notebooks_dir=notebooks, project_dir=tmp_path, params=params,
                          runs_dir="runs", progress=False)  # fmt: skip

    assert api.count() == sample.n_files
    executed = result.run_dir / NOTEBOOK.name
    assert executed.exists()
    for folder in (tmp_path / "data", tmp_path / "runs"):
        for path in files_under(folder):
            assert FAKE_KEY.encode() not in path.read_bytes(), path
