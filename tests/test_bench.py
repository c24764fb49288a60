"""Tests of the benchmark on a tiny data set with two user groups and a group feature."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igtrends import bench
from igtrends.baselines import PopularityRecommender
from igtrends.client import Client, RawStore, ReplayTransport
from igtrends.collect import build_tables, crawl_sample
from igtrends.datasets import FeatureColumns, InteractionData, instagram_interactions, split_per_user
from igtrends.evaluation import evaluate
from igtrends.sample import generate_sample
from igtrends.towers import TwoTowerConfig

N_USERS = 24
N_ITEMS = 12


def tiny_data() -> InteractionData:
    # Users 0-11 (group "a") engage with items 0-5 and users 12-23 (group "b") with items
    # 6-11, so the user feature "group" identifies a new user's items.
    users = pd.DataFrame(
        {"group": ["a" if user < 12 else "b" for user in range(N_USERS)]},
        index=pd.Index([f"u{user}" for user in range(N_USERS)], name="user_id"),
    )
    items = pd.DataFrame(
        {"side": [float(item >= 6) for item in range(N_ITEMS)]},
        index=pd.Index([f"i{item}" for item in range(N_ITEMS)], name="item_id"),
    )
    pairs = [
        (f"u{user}", f"i{item}")
        for user in range(N_USERS)
        for item in (range(0, 6) if user < 12 else range(6, 12))
    ]
    interactions = pd.DataFrame(pairs, columns=["user_id", "item_id"])
    return InteractionData(
        "tiny", users, items, interactions,
        FeatureColumns(categorical=["group"]), FeatureColumns(numeric=["side"]),
    )  # fmt: skip


def tiny_config(**overrides) -> TwoTowerConfig:
    settings = dict(
        embedding_dim=8, id_embedding_dim=8, hidden_units=(16,), batch_size=32, epochs=20,
        temperature=0.1, learning_rate=0.02, seed=5,
    )  # fmt: skip
    settings.update(overrides)
    return TwoTowerConfig(**settings)


def test_cold_start_split_holds_users_out():
    data = tiny_data()
    split = split_per_user(data, 0.25, seed=5)
    cold_split, cold = bench.cold_start_split(split, 0.25, seed=5)
    # 24 users with pairs x 0.25 = 6 held-out users.
    assert len(cold) == 6
    assert not np.isin(cold_split.train_users, cold).any()
    assert set(np.unique(cold_split.test_users)) == set(cold.tolist())
    # Every pair of a held-out user becomes a test pair: 6 items each.
    assert len(cold_split.test_users) == 6 * 6


def test_format_table_has_row_per_model():
    metrics = {name: 0.5 for name in bench.METRICS}
    rows = [bench.BenchRow("tiny", "a", metrics, 1.0), bench.BenchRow("tiny", "b", metrics, 2.0)]
    lines = bench.format_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| tiny | a | 0.5000")


def test_write_results_round_trip(tmp_path):
    metrics = {name: 0.25 for name in bench.METRICS}
    path = bench.write_results([bench.BenchRow("tiny", "a", metrics, 1.5)], tmp_path / "r.json")
    stored = json.loads(path.read_text())
    assert stored[0]["model"] == "a"
    assert stored[0]["metrics"]["ndcg@10"] == 0.25


@pytest.mark.slow
def test_cold_start_towers_beat_popularity():
    rows = bench.run_cold_start(
        tiny_data(), test_fraction=0.25, config=tiny_config(), cold_fraction=0.25
    )
    # The only user feature cannot be left out, so one tower row follows popularity.
    popularity, towers = rows
    assert towers.settings["chosen_user_features"] == "all user features"
    assert towers.settings["user_ids"] is False
    # Popularity gives every user the same list, so it ranks the other group's items
    # high for about half of the held-out users. The group feature avoids that.
    assert towers.metrics["ndcg@10"] > popularity.metrics["ndcg@10"]


@pytest.mark.slow
def test_benchmark_rows_and_same_seed_repeats():
    settings = dict(test_fraction=0.25, config=tiny_config(epochs=2), grid={"temperature": [0.1]})
    first = bench.run_benchmark(tiny_data(), **settings)
    second = bench.run_benchmark(tiny_data(), **settings)
    names = [row.model for row in first]
    assert names[:2] == ["random", "popularity"]
    assert any("EASE" in name for name in names)
    assert any("ALS" in name for name in names)
    assert any("without logQ" in name for name in names)
    assert any("prototype" in name for name in names)
    for row, repeated in zip(first, second, strict=True):
        assert row.metrics == repeated.metrics, row.model


def test_feature_subsets_leave_out_columns_or_kinds():
    columns = FeatureColumns(
        numeric=["age"], categorical=["gender", "occupation"],
        binary=[f"tag_{n}" for n in range(10)],
    )  # fmt: skip
    subsets = bench.feature_subsets(columns, max_single=8)
    assert list(subsets) == [
        "all user features",
        "without age",
        "without the 10 binary columns",
        "without gender",
        "without occupation",
    ]
    assert subsets["without occupation"].all() == ["age", *columns.binary, "gender"]
    assert subsets["without the 10 binary columns"].binary == []
    # A subset with no column left is not offered.
    assert list(bench.feature_subsets(FeatureColumns(numeric=["age"]))) == ["all user features"]


def test_feature_subsets_tags_column():
    columns = FeatureColumns(binary=["is_verified"], tags=["bio_hashtags"], max_tags=5)
    subsets = bench.feature_subsets(columns)
    assert list(subsets) == ["all user features", "without is_verified", "without bio_hashtags"]
    assert subsets["without is_verified"].tags == ["bio_hashtags"]
    assert subsets["without is_verified"].max_tags == 5
    assert subsets["without bio_hashtags"].all() == ["is_verified"]


def test_bio_hashtags_beat_popularity_cold_start(tmp_path):
    # A small sample world, crawled and parsed like the full one. Its biographies list
    # hashtags of their owners' interests, so towers fed those hashtags rank better for
    # users held out of training than popularity or the account counts.
    info = generate_sample(tmp_path / "world", seed=3, n_users=600, n_posts=1500, n_engagements=24_000, n_topics=10)
    replay = Client(ReplayTransport(tmp_path / "world"), RawStore(tmp_path / "raw"))
    crawl_sample(replay, info, progress=False)
    data = instagram_interactions(build_tables(replay.raw_store), name="small")
    split = split_per_user(data, 0.2, seed=1)
    cold_split, cold = bench.cold_start_split(split, 0.2, seed=1)
    assert len(cold) == 120

    config = TwoTowerConfig(
        embedding_dim=32, hidden_units=(), epochs=15, batch_size=256, temperature=0.25,
        learning_rate=0.005, user_ids=False, seed=1,
    )  # fmt: skip
    popularity = evaluate(PopularityRecommender(cold_split).score, cold_split, ks=(10,))["ndcg@10"]
    from_bio, _ = bench._cold_start_metrics(data, cold_split, FeatureColumns(tags=["bio_hashtags"]), config)
    counts = FeatureColumns(log_numeric=["follower_count", "following_count", "media_count"], binary=["is_verified"])
    from_counts, _ = bench._cold_start_metrics(data, cold_split, counts, config)
    assert from_bio["ndcg@10"] > 1.3 * popularity
    assert from_bio["ndcg@10"] > 1.3 * from_counts["ndcg@10"]
