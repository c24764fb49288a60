"""Tests of the two-tower model on a tiny synthetic data set with two user groups."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from igtrends.errors import ConfigurationError
from igtrends.towers import TwoTowerConfig, TwoTowerModel, build_tower

N_USERS = 8
N_ITEMS = 8
# Users 0-3 engage with every item of 0-3 and users 4-7 with every item of 4-7.
GROUP_A = range(0, 4)
GROUP_B = range(4, 8)
PAIRS = [(user, item) for user in GROUP_A for item in GROUP_A] + [
    (user, item) for user in GROUP_B for item in GROUP_B
]
TRAIN_USERS = np.array([user for user, _ in PAIRS], dtype=np.int64)
TRAIN_ITEMS = np.array([item for _, item in PAIRS], dtype=np.int64)

# Two feature columns per side that carry no group information, so the towers must
# learn the groups from the ids.
FEATURES = np.random.default_rng(0).random((N_USERS, 2)).astype(np.float32)
ITEM_FEATURES = np.random.default_rng(1).random((N_ITEMS, 2)).astype(np.float32)


def tiny_config(**overrides) -> TwoTowerConfig:
    settings = dict(
        embedding_dim=8,
        id_embedding_dim=8,
        hidden_units=(16,),
        batch_size=8,
        epochs=30,
        temperature=0.1,
        learning_rate=0.05,
        seed=7,
    )
    settings.update(overrides)
    return TwoTowerConfig(**settings)


def trained_model(**overrides) -> TwoTowerModel:
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(**overrides))
    model.fit(TRAIN_USERS, TRAIN_ITEMS, progress=False)
    return model


@pytest.fixture(scope="module")
def softmax_model() -> TwoTowerModel:
    return trained_model()


# Architecture (no training)


def test_embeddings_have_unit_norm():
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(item_bias=False))
    norms = np.linalg.norm(model.user_embeddings(), axis=1)
    assert norms == pytest.approx(np.ones(N_USERS), abs=1e-5)
    norms = np.linalg.norm(model.item_embeddings(), axis=1)
    assert norms == pytest.approx(np.ones(N_ITEMS), abs=1e-5)
    assert model.index_metric == "cosine"


def test_item_offset_is_last_column():
    # With an item offset, both vectors get one more column: ones for users and the
    # offset times the temperature for items, which starts at 0.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    users, items = model.user_embeddings(), model.item_embeddings()
    assert users.shape == (N_USERS, 9)
    assert items.shape == (N_ITEMS, 9)
    np.testing.assert_array_equal(users[:, -1], 1.0)
    np.testing.assert_array_equal(items[:, -1], 0.0)
    np.testing.assert_allclose(np.linalg.norm(users[:, :-1], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(items[:, :-1], axis=1), 1.0, rtol=1e-5)
    assert model.index_metric == "inner_product"


def test_item_offset_adds_to_cosine():
    # Set item 2's id offset to 3.0 by hand: its score for every user rises by the
    # temperature (0.1) times 3.0 and no other item's score changes.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    before = model.score(np.arange(N_USERS))
    layer = model.item_tower.get_layer("id_offset")
    offsets = np.zeros((N_ITEMS + 1, 1), dtype=np.float32)
    offsets[2] = 3.0
    layer.set_weights([offsets])
    model.__dict__.pop("_item_matrix", None)
    after = model.score(np.arange(N_USERS))
    change = after - before
    np.testing.assert_allclose(change[:, 2], 0.3, rtol=1e-5)
    np.testing.assert_allclose(np.delete(change, 2, axis=1), 0.0, atol=1e-6)


def test_user_tower_without_ids():
    # With user_ids=False two users with equal features get equal embeddings, whatever
    # their ids, and a new user with those features gets the same one too.
    features = np.vstack([FEATURES[:1], FEATURES[:1], FEATURES[2:]])
    model = TwoTowerModel(features, ITEM_FEATURES, tiny_config(user_ids=False))
    layer_names = [layer.name for layer in model.user_tower.layers]
    assert "id_embedding" not in layer_names
    vectors = model.user_embeddings(np.array([0, 1]))
    np.testing.assert_array_equal(vectors[0], vectors[1])
    np.testing.assert_allclose(model.embed_new_users(features[:1])[0], vectors[0], rtol=1e-6)


def test_final_layer_is_linear():
    tower = build_tower("user_tower", N_USERS, 2, tiny_config())
    assert tower.get_layer("projection").activation is keras.activations.linear


def test_embeddings_have_negative_components():
    # A ReLU output layer would keep every component >= 0.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    assert (model.user_embeddings() < 0).any()
    assert (model.item_embeddings() < 0).any()


def test_scores_are_cosines():
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(item_bias=False))
    expected = model.user_embeddings() @ model.item_embeddings().T
    np.testing.assert_allclose(model.score(np.arange(N_USERS)), expected, rtol=1e-6)
    assert np.abs(expected).max() <= 1 + 1e-5


def test_tower_without_id_embedding_uses_features():
    tower = build_tower("content_tower", N_ITEMS, 2, tiny_config(id_embedding_dim=0))
    layer_names = [layer.name for layer in tower.layers]
    assert "id_embedding" not in layer_names
    output = tower({"index": np.arange(3, dtype=np.int32), "features": ITEM_FEATURES[:3]})
    assert tuple(output.shape) == (3, 8)


def test_tower_without_inputs_raises():
    with pytest.raises(ConfigurationError, match="content_tower has no input"):
        build_tower("content_tower", N_ITEMS, 0, tiny_config(id_embedding_dim=0))


# Configuration checks


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("loss", "mse"),
        ("temperature", 0.0),
        ("temperature", -0.1),
        ("embedding_dim", 0),
        ("batch_size", 0),
        ("epochs", 0),
    ],
)
def test_invalid_config_names_value(setting, value):
    with pytest.raises(ConfigurationError, match=f"{setting}={value!r}"):
        TwoTowerConfig(**{setting: value})


def test_config_without_inputs_raises():
    with pytest.raises(ConfigurationError, match="id_embedding_dim > 0 or use_features=True"):
        TwoTowerConfig(id_embedding_dim=0, use_features=False)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("dropout", 1.5),
        ("dropout", -0.1),
        ("input_dropout", 1.0),
        ("input_dropout", -0.2),
        ("learning_rate", 0.0),
        ("negatives_per_positive", 0),
        ("hidden_units", (0,)),
    ],
)
def test_unchecked_config_values_raise(setting, value):
    with pytest.raises(ConfigurationError, match=setting):
        TwoTowerConfig(**{setting: value})


def test_fit_rejects_unequal_pairs():
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    with pytest.raises(ValueError, match="got 3 users and 2 items"):
        model.fit(np.array([0, 1, 2]), np.array([0, 1]), progress=False)


def test_predict_proba_needs_bce():
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    with pytest.raises(ConfigurationError, match="loss='bce'"):
        model.predict_proba(np.array([0]), np.array([0]))


# Training


@pytest.mark.slow
def test_two_groups_are_learned(softmax_model):
    top_items = np.argmax(softmax_model.score(np.arange(N_USERS)), axis=1)
    for user in GROUP_A:
        assert top_items[user] in GROUP_A, f"user {user} ranks item {top_items[user]} first"
    for user in GROUP_B:
        assert top_items[user] in GROUP_B, f"user {user} ranks item {top_items[user]} first"


@pytest.mark.slow
def test_trained_scores_can_be_negative(softmax_model):
    # With a ReLU output layer no cosine could fall below 0. Pairs across the two groups
    # should end up with negative scores.
    scores = softmax_model.score(np.arange(N_USERS))
    assert scores[np.ix_(GROUP_A, GROUP_B)].min() < 0
    assert scores[np.ix_(GROUP_B, GROUP_A)].min() < 0


@pytest.mark.slow
def test_training_lowers_loss(softmax_model):
    losses = softmax_model.history.loss
    assert len(losses) == 30
    assert losses[-1] < losses[0]
    history = softmax_model.history
    assert len(history.epoch_seconds) == 30
    # 32 pairs per epoch: the steady rate counts epochs 2 to 30 over their own time.
    assert history.steady_examples_per_second == pytest.approx(
        32 * 29 / sum(history.epoch_seconds[1:]), rel=1e-9
    )


@pytest.mark.slow
def test_trained_embeddings_keep_unit_norm(softmax_model):
    # The first embedding_dim columns stay a unit vector; the last is the offset column.
    norms = np.linalg.norm(softmax_model.user_embeddings()[:, :-1], axis=1)
    assert norms == pytest.approx(np.ones(N_USERS), abs=1e-5)
    norms = np.linalg.norm(softmax_model.item_embeddings()[:, :-1], axis=1)
    assert norms == pytest.approx(np.ones(N_ITEMS), abs=1e-5)


@pytest.mark.slow
def test_same_seed_gives_identical_scores(softmax_model):
    again = trained_model()
    users = np.arange(N_USERS)
    assert np.array_equal(again.score(users), softmax_model.score(users))
    assert again.history.loss == softmax_model.history.loss


@pytest.mark.slow
def test_validation_pairs_do_not_change_training(softmax_model):
    # Validation pairs only give a loss per epoch, so the trained weights are the same.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    model.fit(TRAIN_USERS, TRAIN_ITEMS, validation=(np.array([0, 5]), np.array([1, 6])), progress=False)
    assert len(model.history.val_loss) == 30
    users = np.arange(N_USERS)
    assert np.array_equal(model.score(users), softmax_model.score(users))


@pytest.mark.slow
def test_save_and_load_give_identical_scores(softmax_model, tmp_path):
    softmax_model.save(tmp_path / "model")
    loaded = TwoTowerModel.load(tmp_path / "model")
    users = np.arange(N_USERS)
    assert np.array_equal(loaded.score(users), softmax_model.score(users))
    assert loaded.config == softmax_model.config
    assert loaded.history.loss == softmax_model.history.loss


@pytest.mark.slow
def test_bce_trains_and_gives_probabilities(tmp_path):
    model = trained_model(loss="bce", negatives_per_positive=2)
    assert model.history.loss[-1] < model.history.loss[0]
    probabilities = model.predict_proba(TRAIN_USERS, TRAIN_ITEMS)
    assert probabilities.shape == (len(TRAIN_USERS),)
    assert (probabilities > 0).all()
    assert (probabilities < 1).all()

    # Engaged pairs should score above pairs across the two groups.
    cross_users = np.array([0, 1, 4, 5])
    cross_items = np.array([4, 5, 0, 1])
    assert probabilities.mean() > model.predict_proba(cross_users, cross_items).mean()

    model.save(tmp_path / "bce")
    loaded = TwoTowerModel.load(tmp_path / "bce")
    np.testing.assert_array_equal(loaded.predict_proba(TRAIN_USERS, TRAIN_ITEMS), probabilities)


@pytest.mark.slow
def test_score_before_fit_does_not_go_stale():
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config())
    model.score(np.arange(N_USERS))
    model.fit(TRAIN_USERS, TRAIN_ITEMS, progress=False)
    expected = model.user_embeddings() @ model.item_embeddings().T
    np.testing.assert_allclose(model.score(np.arange(N_USERS)), expected, rtol=1e-5)


def test_dropout_masks_differ_between_towers():
    # Equal seeds would give a user row and its positive item the same dropout mask,
    # a pattern the softmax can match instead of learning preferences.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, TwoTowerConfig(dropout=0.2, hidden_units=(8,)))
    user_dropout = [layer for layer in model.user_tower.layers if isinstance(layer, keras.layers.Dropout)]
    item_dropout = [layer for layer in model.item_tower.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(user_dropout) == 1
    assert len(item_dropout) == 1
    assert user_dropout[0].seed != item_dropout[0].seed


@pytest.mark.slow
def test_mixed_negatives_learn_groups():
    model = trained_model(extra_negatives=4)
    top = np.argmax(model.score(np.arange(N_USERS)), axis=1)
    for user in range(N_USERS):
        group = GROUP_A if user in GROUP_A else GROUP_B
        assert top[user] in group


@pytest.mark.slow
def test_new_user_embedding_from_features():
    model = trained_model(id_dropout=0.5)
    vectors = model.embed_new_users(FEATURES[:2])
    assert vectors.shape == (2, model.config.embedding_dim + 1)
    np.testing.assert_allclose(np.linalg.norm(vectors[:, :-1], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[:, -1], 1.0)
    with pytest.raises(ValueError, match="feature columns"):
        model.embed_new_users(np.zeros((1, FEATURES.shape[1] + 1)))


def test_input_dropout_only_in_training():
    # Dropout on the feature input is active with training=True only, so inference
    # embeddings repeat exactly and a training call gives different ones.
    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(input_dropout=0.5))
    inputs = {"index": np.arange(N_USERS, dtype=np.int32), "features": FEATURES}
    first = np.asarray(model.user_tower(inputs, training=False))
    second = np.asarray(model.user_tower(inputs, training=False))
    assert np.array_equal(first, second)
    dropped = np.asarray(model.user_tower(inputs, training=True))
    assert not np.array_equal(first, dropped)


def test_repeated_users_train_deterministically():
    # Every user appears four times per batch, so the user tower runs once per distinct
    # user. The loss and scores must still repeat exactly for the same seed.
    users = np.repeat(np.arange(N_USERS), 4)
    items = np.tile(np.arange(4), N_USERS) + 4 * (users >= 4)
    first = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(epochs=3, id_dropout=0.2))
    second = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(epochs=3, id_dropout=0.2))
    first.fit(users, items, progress=False)
    second.fit(users, items, progress=False)
    assert first.history.loss == second.history.loss
    assert np.array_equal(first.score(np.arange(N_USERS)), second.score(np.arange(N_USERS)))


def test_old_model_loads_without_offsets(tmp_path):
    # A saved config without the item_bias field comes from a model of plain unit
    # vectors, so loading it must not assume an offset column.
    import json

    model = TwoTowerModel(FEATURES, ITEM_FEATURES, tiny_config(item_bias=False, epochs=1))
    folder = model.save(tmp_path / "old")
    state = json.loads((folder / "two_tower.json").read_text())
    del state["config"]["item_bias"]
    (folder / "two_tower.json").write_text(json.dumps(state))
    loaded = TwoTowerModel.load(folder)
    assert loaded.config.item_bias is False
    assert loaded.index_metric == "cosine"
    np.testing.assert_array_equal(loaded.score(np.arange(N_USERS)), model.score(np.arange(N_USERS)))
