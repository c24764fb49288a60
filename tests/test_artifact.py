"""Tests of the saved model artifact: encoders, manifest, index and round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from igtrends import artifact
from igtrends.datasets import FeatureColumns, InteractionData
from igtrends.errors import ArtifactError
from igtrends.features import FeatureEncoder
from igtrends.recommend import Recommender
from igtrends.towers import TwoTowerConfig
from igtrends.training import load_trained, save_trained, train_two_tower


def tiny_data(n_users: int = 120, n_items: int = 60, seed: int = 0) -> InteractionData:
    """Users engage with items of their own group (user index mod 3 = item index mod 3)."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {
            "is_verified": rng.random(n_users) < 0.2,
            "follower_count": rng.integers(10, 100_000, n_users).astype(float),
            "country": rng.choice(["de", "fr", "us"], n_users),
        },
        index=pd.Index([f"u{i}" for i in range(n_users)], name="user_id"),
    )
    items = pd.DataFrame(
        {"age_days": rng.integers(0, 300, n_items).astype(float)},
        index=pd.Index([f"p{i}" for i in range(n_items)], name="item_id"),
    )
    pairs = []
    for user in range(n_users):
        group = [item for item in range(n_items) if item % 3 == user % 3]
        for item in rng.choice(group, 6, replace=False):
            pairs.append((f"u{user}", f"p{item}"))
    interactions = pd.DataFrame(pairs, columns=["user_id", "item_id"])
    # Half of the users name their group among their tags, as a biography's hashtags do.
    users["tags"] = [
        [f"group{user % 3}", "daily"] if rng.random() < 0.5 else ["daily"] for user in range(n_users)
    ]
    return InteractionData(
        "tiny", users, items, interactions,
        FeatureColumns(
            log_numeric=["follower_count"], binary=["is_verified"], categorical=["country"], tags=["tags"]
        ),
        FeatureColumns(numeric=["age_days"]),
    )


def tiny_config() -> TwoTowerConfig:
    return TwoTowerConfig(
        embedding_dim=8, id_embedding_dim=8, hidden_units=(16,), epochs=3, batch_size=64,
        temperature=0.2, id_dropout=0.2,
    )


@pytest.fixture(scope="module")
def trained():
    return train_two_tower(tiny_data(), test_fraction=0.25, config=tiny_config(), progress=False)


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("artifact") / "two_tower"
    save_trained(trained, folder)
    return folder


def test_folder_holds_every_part(saved):
    for name in ("model/user_tower.keras", "model/content_tower.keras", "split.npz",
                 "encoders.json", "manifest.json", "index/index.json", "index/vectors.npy"):
        assert (saved / name).exists(), name


def test_manifest_records_run(saved, trained):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format"] == artifact.ARTIFACT_FORMAT
    assert manifest["dataset"] == "tiny"
    assert manifest["versions"]["tensorflow"]
    assert manifest["training"]["test_fraction"] == 0.25
    assert manifest["training"]["config"]["epochs"] == 3
    assert manifest["index"]["backend"] == "exact"
    assert manifest["data_sha256"] == trained.data_sha256
    assert 0.0 <= manifest["metrics"]["recall@10"] <= 1.0


def test_fingerprint_ignores_row_order():
    data = tiny_data()
    shuffled = data.interactions.sample(frac=1.0, random_state=1)
    doubled = pd.concat([data.interactions, data.interactions.head(5)])
    assert artifact.interactions_sha256(shuffled) == artifact.interactions_sha256(data.interactions)
    assert artifact.interactions_sha256(doubled) == artifact.interactions_sha256(data.interactions)


def test_fingerprint_changes_with_a_pair():
    data = tiny_data()
    changed = data.interactions.copy()
    changed.loc[0, "item_id"] = "p59" if changed.loc[0, "item_id"] != "p59" else "p58"
    assert artifact.interactions_sha256(changed) != artifact.interactions_sha256(data.interactions)


def test_encoder_round_trip_transforms_alike(trained):
    data = tiny_data()
    # New rows outside the training range and with an unseen category and a gap.
    rows = pd.DataFrame(
        {"is_verified": [True, None], "follower_count": [5e6, np.nan], "country": ["jp", "de"]}
    )
    table = pd.concat([data.users.reset_index(drop=True), rows], ignore_index=True)
    state = json.loads(json.dumps(artifact.encoder_to_dict(trained.user_encoder)))
    restored = artifact.encoder_from_dict(state)
    assert isinstance(restored, FeatureEncoder)
    np.testing.assert_array_equal(restored.transform(table), trained.user_encoder.transform(table))
    assert restored.feature_names == trained.user_encoder.feature_names


def test_load_trained_restores_encoders(saved, trained):
    loaded = load_trained(saved)
    assert loaded.user_history is True
    assert loaded.user_encoder is not None
    assert loaded.item_encoder.feature_names == trained.item_encoder.feature_names
    np.testing.assert_array_equal(loaded.split.train_users, trained.split.train_users)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["exact", "hnsw"])
def test_round_trip_keeps_top_10(trained, tmp_path, backend):
    before = Recommender.from_trained(trained, backend=backend)
    folder = save_trained(trained, tmp_path / "model", index_backend=backend)
    after = Recommender.load(folder)
    # The tiny set has 120 users, so 100 of them are checked.
    users = trained.user_ids[:100]
    expected = before.search_users(users, k=10)
    found = after.search_users(users, k=10)
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_allclose(found.scores, expected.scores, rtol=1e-6)


def test_any_k_after_load(saved, trained):
    recommender = Recommender.load(saved)
    n_items = len(trained.item_ids)
    for k in (1, 3, 25):
        assert len(recommender.recommend("u0", k)) == k
    # u0 engaged with some training items, which are excluded, so asking for every
    # item returns the rest of the catalogue.
    engaged = recommender.engaged_items("u0")
    everything = recommender.recommend("u0", n_items + 10)
    assert len(everything) == n_items - len(engaged)
    assert len(recommender.recommend("u0", n_items + 10, include_engaged=True)) == n_items


def test_loading_needs_only_the_folder(saved, tmp_path):
    # A copy elsewhere loads and answers the same, so nothing outside the folder is read.
    import shutil

    copy = tmp_path / "elsewhere"
    shutil.copytree(saved, copy)
    original = Recommender.load(saved).recommend("u5", 10)
    moved = Recommender.load(copy).recommend("u5", 10)
    pd.testing.assert_frame_equal(moved, original)


def test_missing_manifest_named(tmp_path):
    with pytest.raises(ArtifactError, match="no manifest.json in"):
        Recommender.load(tmp_path)


def test_other_format_rejected(saved, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(saved, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="format 99"):
        Recommender.load(copy)
