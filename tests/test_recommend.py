"""Tests of igtrends.recommend and the ``igtrends recommend`` command."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from igtrends.cli import main
from igtrends.errors import FeatureInputError, UnknownIdError
from igtrends.recommend import Recommender, parse_features
from igtrends.training import save_trained, train_two_tower

from test_artifact import tiny_config, tiny_data


# Every test here uses one tiny model trained once for the module (a few seconds).
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    trained = train_two_tower(tiny_data(), test_fraction=0.25, config=tiny_config(), progress=False)
    return save_trained(trained, tmp_path_factory.mktemp("recommend") / "two_tower")


@pytest.fixture(scope="module")
def recommender(saved):
    return Recommender.load(saved)


def test_known_user_excludes_engaged(recommender):
    engaged = set(recommender.engaged_items("u3"))
    table = recommender.recommend("u3", k=20)
    assert engaged
    assert not engaged & set(table["item_id"])
    assert table["rank"].tolist() == list(range(1, 21))
    assert table["score"].is_monotonic_decreasing


def test_known_user_can_include_engaged(recommender):
    n_items = len(recommender.item_ids)
    table = recommender.recommend("u3", k=n_items, include_engaged=True)
    assert set(recommender.engaged_items("u3")) <= set(table["item_id"])


def test_scores_match_model(recommender):
    # The index contains the item tower's vectors, so each score is the model's own score.
    row = recommender.user_row("u7")
    expected = recommender.model.score(np.array([row]))[0]
    table = recommender.recommend("u7", k=5, include_engaged=True)
    positions = recommender.index.positions_of(table["item_id"].tolist())
    np.testing.assert_allclose(table["score"], expected[positions], rtol=1e-5, atol=1e-6)
    assert table["item_id"].iloc[0] == recommender.item_ids[np.argmax(expected)]


def test_new_user_from_features(recommender):
    table = recommender.recommend_new_user({"is_verified": False, "follower_count": 1200}, k=5)
    assert len(table) == 5
    assert table["item_id"].is_unique


def test_new_user_engaged_items_excluded_and_used(recommender):
    engaged = ["p0", "p3", "p6"]
    plain = recommender.new_user_features({"is_verified": True})
    with_history = recommender.new_user_features({"is_verified": True}, engaged)
    # Three engaged items get 1 / sqrt(3) each in the history part of the features.
    history = with_history[0, -len(recommender.item_ids):]
    np.testing.assert_allclose(history[[0, 3, 6]], 1 / np.sqrt(3), rtol=1e-6)
    assert history.sum() == pytest.approx(3 / np.sqrt(3), rel=1e-6)
    assert plain[0, -len(recommender.item_ids):].sum() == 0
    table = recommender.recommend_new_user({"is_verified": True}, engaged, k=30)
    assert not set(engaged) & set(table["item_id"])


def test_unknown_user_named(recommender):
    with pytest.raises(UnknownIdError, match="user id 'nobody' is not among") as error:
        recommender.recommend("nobody")
    assert "--features" in str(error.value)


def test_unknown_feature_named(recommender):
    with pytest.raises(FeatureInputError, match="unknown user feature 'followers'"):
        recommender.recommend_new_user({"followers": 10})


def test_bad_feature_value_named(recommender):
    with pytest.raises(FeatureInputError, match="'follower_count' is numeric; got 'many'"):
        recommender.recommend_new_user({"follower_count": "many"})


def test_new_user_tags_encoded(recommender, caplog):
    # '#Group1' is normalised to the stored form 'group1', and 'unknown' has no column.
    with caplog.at_level(logging.WARNING, logger="igtrends"):
        encoded = recommender.new_user_features({"tags": ["#Group1", "unknown"]})
    assert "feature 'tags': tags ['unknown'] are not in the model's vocabulary of 4 tags" in caplog.text
    names = recommender.user_encoder.feature_names
    tag_columns = {name: encoded[0, names.index(name)] for name in names if name.startswith("tags=")}
    assert tag_columns == {"tags=daily": 0.0, "tags=group0": 0.0, "tags=group1": 1.0, "tags=group2": 0.0}
    table = recommender.recommend_new_user({"tags": ["group1"]}, k=5)
    assert len(table) == 5


def test_bad_tags_value_named(recommender):
    with pytest.raises(FeatureInputError, match="'tags' is a list of tags; got 'group1'"):
        recommender.recommend_new_user({"tags": "group1"})


def test_unknown_engaged_item_named(recommender):
    with pytest.raises(UnknownIdError, match="item id 'p999' is not in the index"):
        recommender.recommend_new_user({}, ["p999"])


def test_bad_json_named():
    with pytest.raises(FeatureInputError, match="--features is not valid JSON"):
        parse_features('{"is_verified": fals}')
    with pytest.raises(FeatureInputError, match="must be a JSON object"):
        parse_features("[1, 2]")


@pytest.mark.slow
def test_cli_known_user(saved, capsys):
    status = main(["recommend", "--model", str(saved), "--user", "u1", "--k", "5", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [row["rank"] for row in rows] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_cli_features_inline_and_file(saved, tmp_path, capsys):
    features = '{"is_verified": false, "follower_count": 1200}'
    status = main(["recommend", "--model", str(saved), "--features", features, "--k", "3"])
    inline = capsys.readouterr().out
    path = tmp_path / "user.json"
    path.write_text(features)
    status_file = main(["recommend", "--model", str(saved), "--features-file", str(path), "--k", "3"])
    from_file = capsys.readouterr().out
    assert status == 0
    assert status_file == 0
    assert "Top 3 for a new user" in inline
    assert inline.splitlines()[2:] == from_file.splitlines()[2:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "ghost"], "user id 'ghost' is not among"),
        (["--features", '{"colour": "red"}'], "unknown user feature 'colour'"),
        (["--features", "{not json"], "--features is not valid JSON"),
    ],
)
def test_cli_errors_exit_1(saved, capsys, arguments, message):
    status = main(["recommend", "--model", str(saved), *arguments])
    assert status == 1
    assert message in capsys.readouterr().err
