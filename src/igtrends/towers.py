"""The two-tower retrieval model in Keras 3.

A user tower maps a user's id and features to an L2-normalised embedding, a content
tower does the same for an item (a post, or a movie on MovieLens). The score of a pair
is the cosine similarity of the two embeddings plus, by default, a learned offset per
item. Both fit in one inner product: the user vector ends with a constant 1 and the
item vector with its offset, so an inner-product index retrieves by the model's score.
Training uses real engagement pairs with a softmax over in-batch negatives (default)
or, for comparison with the original prototype, binary cross-entropy on uniformly
sampled negatives.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from igtrends.errors import ConfigurationError  # noqa: E402
from igtrends.log import get_logger  # noqa: E402
from igtrends.losses import (  # noqa: E402
    batch_columns,
    sampled_binary_cross_entropy,
    weighted_softmax_loss,
)

log = get_logger("towers")


@dataclass
class TwoTowerConfig:
    """Architecture and training settings of :class:`TwoTowerModel`."""

    embedding_dim: int = 64
    """Size of the output embeddings that are compared."""
    id_embedding_dim: int = 64
    """Size of the learned id embedding inside each tower; 0 turns ids off. A tower
    without hidden layers embeds ids directly in the output space, so there only 0 or
    not 0 matters."""
    hidden_units: tuple[int, ...] = (128,)
    """ReLU layers between the tower input and its linear output layer. With none, each
    tower is the sum of its id embedding and a linear map of its features."""
    user_ids: bool = True
    """Give the user tower an id embedding. Without one, every user is embedded from
    their features alone, exactly as a user never seen in training is."""
    item_bias: bool = True
    """Add a learned offset per item to the score, from the item's id and features. It
    carries popularity, which the cosine of two unit vectors expresses poorly."""
    use_features: bool = True
    """Feed the user and item feature vectors into the towers."""
    dropout: float = 0.0
    input_dropout: float = 0.0
    """Dropout rate on the feature input of both towers in training: a denoising of the
    user's history, when the history is among the user features."""
    loss: Literal["softmax", "bce"] = "softmax"
    """``softmax``: in-batch negatives; ``bce``: binary cross-entropy on sampled negatives."""
    temperature: float = 0.05
    """Divides the cosine similarities before the softmax (or the sigmoid, for ``bce``)."""
    logq_correction: bool = True
    """Subtract log item frequency from in-batch logits (softmax loss only)."""
    mask_duplicates: bool = True
    """Mask other rows of the batch that hold the same item (softmax loss only)."""
    negatives_per_positive: int = 4
    """Uniformly sampled negatives per positive pair (bce loss only)."""
    extra_negatives: int = 0
    """Uniformly sampled items added to every batch as shared negatives (softmax loss
    only): mixed negative sampling, which reaches items that rarely appear in batches."""
    id_dropout: float = 0.0
    """Probability of replacing a training id by the unknown-id slot, so that the towers
    learn to embed from features alone, as they must for a user or item never seen."""
    batch_size: int = 1024
    epochs: int = 20
    learning_rate: float = 0.003
    seed: int = 42

    def __post_init__(self) -> None:
        if self.loss not in ("softmax", "bce"):
            raise ConfigurationError(f"loss={self.loss!r} is unknown; use 'softmax' or 'bce'")
        if self.temperature <= 0:
            raise ConfigurationError(f"temperature={self.temperature!r} must be positive, e.g. 0.05")
        if self.id_embedding_dim <= 0 and not self.use_features:
            raise ConfigurationError(
                "the towers have no input: set id_embedding_dim > 0 or use_features=True"
            )
        if not self.user_ids and not self.use_features:
            raise ConfigurationError(
                "the user tower has no input: set user_ids=True or use_features=True"
            )
        for name in ("embedding_dim", "batch_size", "epochs", "negatives_per_positive"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name}={getattr(self, name)!r} must be at least 1")
        if self.extra_negatives < 0:
            raise ConfigurationError(
                f"extra_negatives={self.extra_negatives!r} must be 0 or more"
            )
        if not 0.0 <= self.id_dropout < 1.0:
            raise ConfigurationError(
                f"id_dropout={self.id_dropout!r} must be in [0, 1), e.g. 0.1"
            )
        if not 0.0 <= self.input_dropout < 1.0:
            raise ConfigurationError(
                f"input_dropout={self.input_dropout!r} must be in [0, 1), e.g. 0.5"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"dropout={self.dropout!r} must be in [0, 1), e.g. 0.1")
        if self.learning_rate <= 0:
            raise ConfigurationError(
                f"learning_rate={self.learning_rate!r} must be positive, e.g. 0.002"
            )
        self.hidden_units = tuple(int(units) for units in self.hidden_units)
        if any(units < 1 for units in self.hidden_units):
            raise ConfigurationError(
                f"hidden_units={self.hidden_units!r} must all be at least 1; use () for no "
                "hidden layer"
            )


@keras.saving.register_keras_serializable(package="igtrends")
class ConstantColumn(keras.layers.Layer):
    """Append a column of ones: the user side of the item offset in the inner product."""

    def call(self, inputs):
        ones = keras.ops.ones_like(inputs[..., :1])
        return keras.ops.concatenate([inputs, ones], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def build_tower(
    name: str,
    n_ids: int,
    n_features: int,
    config: TwoTowerConfig,
    seed_offset: int = 0,
    *,
    last_column: Literal["none", "ones", "item_bias"] = "none",
    ids: bool = True,
) -> keras.Model:
    """Build one tower: inputs ``index`` (int) and ``features`` (float), output a unit vector.

    The id embedding has ``n_ids + 1`` rows: index ``n_ids`` is the unknown-id slot, used
    for ids the model never saw (and, with ``id_dropout``, for some training rows).

    ``last_column`` appends one column to the unit vector: ``"ones"`` for the user tower
    and ``"item_bias"`` (the item's learned offset times the temperature) for the content
    tower of a model with ``item_bias``. Their inner product divided by the temperature
    is then the cosine divided by the temperature plus the offset. ``ids=False`` leaves
    out the id embedding even when ``config.id_embedding_dim`` is above 0.

    Each tower needs its own ``seed_offset``: with equal dropout seeds, the two towers of
    a training row get the same dropout mask, and the model learns to match masks
    instead of users and items.
    """
    index = keras.Input(shape=(), dtype="int32", name="index")
    features = keras.Input(shape=(n_features,), dtype="float32", name="features")
    use_ids = ids and config.id_embedding_dim > 0
    use_features = config.use_features and n_features > 0
    if not (use_ids or use_features):
        raise ConfigurationError(
            f"the {name} has no input: it has no features and id embeddings are off"
        )
    feature_input = features
    if use_features and config.input_dropout > 0:
        feature_input = keras.layers.Dropout(
            config.input_dropout, seed=config.seed + seed_offset + 100, name="input_dropout"
        )(features)

    if config.hidden_units:
        parts = []
        if use_ids:
            parts.append(
                keras.layers.Embedding(n_ids + 1, config.id_embedding_dim, name="id_embedding")(index)
            )
        if use_features:
            parts.append(feature_input)
        hidden = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="inputs")(parts)
        for position, units in enumerate(config.hidden_units):
            hidden = keras.layers.Dense(units, activation="relu", name=f"hidden_{position}")(hidden)
            if config.dropout > 0:
                hidden = keras.layers.Dropout(config.dropout, seed=config.seed + seed_offset)(hidden)
        # The last layer is linear: a ReLU here would confine embeddings to the positive
        # orthant, where no two cosines can be negative.
        output = keras.layers.Dense(config.embedding_dim, name="projection")(hidden)
    else:
        # A linear tower: the id embedding lives in the output space and the features
        # add a linear term. This is the same family as one dense layer over the
        # concatenated inputs, without multiplying every id embedding by a shared matrix.
        parts = []
        if use_ids:
            parts.append(
                keras.layers.Embedding(n_ids + 1, config.embedding_dim, name="id_embedding")(index)
            )
        if use_features:
            parts.append(keras.layers.Dense(config.embedding_dim, name="projection")(feature_input))
        output = parts[0] if len(parts) == 1 else keras.layers.Add(name="sum")(parts)
    output = keras.layers.UnitNormalization(name="l2_normalize")(output)

    if last_column == "ones":
        output = ConstantColumn(name="ones")(output)
    elif last_column == "item_bias":
        offsets = []
        if use_ids:
            offsets.append(
                keras.layers.Embedding(
                    n_ids + 1, 1, embeddings_initializer="zeros", name="id_offset"
                )(index)
            )
        if use_features:
            offsets.append(
                keras.layers.Dense(1, kernel_initializer="zeros", name="feature_offset")(features)
            )
        offset = offsets[0] if len(offsets) == 1 else keras.layers.Add(name="offset")(offsets)
        # Scaled by the temperature, so that dividing the inner product by it leaves the
        # offset itself in the logit.
        offset = keras.layers.Rescaling(config.temperature, name="scaled_offset")(offset)
        output = keras.layers.Concatenate(name="with_offset")([output, offset])
    elif last_column != "none":
        raise ValueError(f"last_column={last_column!r} is unknown; use 'none', 'ones' or 'item_bias'")
    return keras.Model({"index": index, "features": features}, output, name=name)


@dataclass
class TrainingHistory:
    """Losses per epoch and the wall-clock training time."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    examples_per_second: float = 0.0
    """Training pairs times epochs over the whole fit, graph tracing included."""
    epoch_seconds: list[float] = field(default_factory=list)
    """Wall time of each epoch's training steps (validation excluded)."""
    steady_examples_per_second: float = 0.0
    """Examples per second after the first epoch, which also traces the step graph."""

    def as_dict(self) -> dict[str, list[float]]:
        curves = {"loss": self.loss}
        if self.val_loss:
            curves["val_loss"] = self.val_loss
        return curves


class TwoTowerModel:
    """A user tower and a content tower trained on (user, item) engagement pairs.

    ``user_features`` and ``item_features`` are float32 matrices with one row per user
    and per item, already scaled on training rows (see :mod:`igtrends.features`).
    """

    def __init__(
        self,
        user_features: np.ndarray,
        item_features: np.ndarray,
        config: TwoTowerConfig | None = None,
    ) -> None:
        self.config = config or TwoTowerConfig()
        self.user_features = np.ascontiguousarray(user_features, dtype=np.float32)
        self.item_features = np.ascontiguousarray(item_features, dtype=np.float32)
        keras.utils.set_random_seed(self.config.seed)
        bias = self.config.item_bias
        self.user_tower = build_tower(
            "user_tower", len(self.user_features), self.user_features.shape[1], self.config,
            last_column="ones" if bias else "none", ids=self.config.user_ids,
        )
        self.item_tower = build_tower(
            "content_tower", len(self.item_features), self.item_features.shape[1], self.config,
            seed_offset=1, last_column="item_bias" if bias else "none",
        )
        # Learned offset of the pointwise logit, used by the bce loss only.
        self.bias = tf.Variable(0.0, dtype=tf.float32, name="bce_bias")
        self.history = TrainingHistory()

    @property
    def n_users(self) -> int:
        return len(self.user_features)

    @property
    def n_items(self) -> int:
        return len(self.item_features)

    @property
    def index_metric(self) -> str:
        """How an index must compare the embeddings to rank by this model's score.

        ``"inner_product"`` with an item offset, whose column makes the vectors
        longer than 1, and ``"cosine"`` for plain unit vectors. The offset column costs
        HNSW some recall at a given ``ef`` (measured in docs/benchmarks.md).
        """
        return "inner_product" if self.config.item_bias else "cosine"

    def fit(
        self,
        users: np.ndarray,
        items: np.ndarray,
        *,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: bool = True,
    ) -> TrainingHistory:
        """Train on engagement pairs given as row positions of users and items.

        ``validation`` pairs, carved from the training data, give a loss per epoch and
        are never trained on. Training is deterministic for a given seed on the CPU.
        """
        config = self.config
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if len(users) != len(items) or len(users) == 0:
            raise ValueError(
                f"got {len(users)} users and {len(items)} items; pass one item per user "
                "and at least one pair"
            )
        keras.utils.set_random_seed(config.seed)
        tf.config.experimental.enable_op_determinism()
        self.__dict__.pop("_item_matrix", None)

        user_features = tf.constant(self.user_features)
        item_features = tf.constant(self.item_features)
        counts = np.bincount(items, minlength=self.n_items).astype(np.float64)
        # An item never seen in training keeps a tiny probability so its log stays finite.
        probability = np.maximum(counts, 0.5) / len(items)
        log_q = tf.constant(np.log(probability), dtype=tf.float32)
        optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
        variables = self.user_tower.trainable_variables + self.item_tower.trainable_variables
        if config.loss == "bce":
            variables = [*variables, self.bias]
        n_items = self.n_items

        def embed(tower, features, rows, training, seed):
            ids = tf.cast(rows, tf.int32)
            if training and config.id_dropout > 0:
                unknown = tf.shape(features)[0]
                dropped = tf.random.stateless_uniform(tf.shape(ids), seed=seed) < config.id_dropout
                ids = tf.where(dropped, unknown, ids)
            return tower({"index": ids, "features": tf.gather(features, rows)}, training=training)

        def batch_loss(batch_users, batch_items, training, seed):
            # Each distinct user of the batch goes through the tower once. Users repeat
            # in a batch (about half the rows on MovieLens at batch 1024), and a wide
            # user input such as the history makes the user tower the costly part.
            distinct_users, user_rows = tf.unique(batch_users)
            query = tf.gather(
                embed(self.user_tower, user_features, distinct_users, training, seed + [0, 1]),
                user_rows,
            )
            if config.loss == "softmax":
                extra = None
                if config.extra_negatives:
                    extra = tf.random.stateless_uniform(
                        [config.extra_negatives], seed=seed + [0, 3], minval=0, maxval=n_items,
                        dtype=tf.int64,
                    )
                # Each distinct item is embedded and scored once. Its column is weighted by
                # its copies and, with the logQ correction, by its sampling probability.
                columns = batch_columns(
                    batch_items, extra, log_q if config.logq_correction else None, n_items
                )
                candidate = embed(self.item_tower, item_features, columns.ids, training, seed + [0, 2])
                return weighted_softmax_loss(
                    query, candidate, columns, config.temperature, config.mask_duplicates
                )
            candidate = embed(self.item_tower, item_features, batch_items, training, seed + [0, 2])
            negatives = tf.random.stateless_uniform(
                [tf.shape(batch_items)[0], config.negatives_per_positive],
                seed=seed, minval=0, maxval=n_items, dtype=tf.int64,
            )
            negative_vectors = embed(
                self.item_tower, item_features, tf.reshape(negatives, [-1]), training, seed + [0, 5]
            )
            negative_vectors = tf.reshape(
                negative_vectors, [-1, config.negatives_per_positive, tf.shape(candidate)[-1]]
            )
            positive_logits = tf.reduce_sum(query * candidate, -1) / config.temperature + self.bias
            negative_logits = (
                tf.einsum("bd,bnd->bn", query, negative_vectors) / config.temperature + self.bias
            )
            return sampled_binary_cross_entropy(positive_logits, negative_logits)

        @tf.function(reduce_retracing=True)
        def train_step(batch_users, batch_items, seed):
            with tf.GradientTape() as tape:
                loss = batch_loss(batch_users, batch_items, True, seed)
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(gradients, variables))
            return loss

        @tf.function(reduce_retracing=True)
        def validation_step(batch_users, batch_items, seed):
            return batch_loss(batch_users, batch_items, False, seed)

        rng = np.random.default_rng(config.seed)
        n_batches = int(np.ceil(len(users) / config.batch_size))
        started = time.perf_counter()
        epochs = tqdm(range(config.epochs), desc="training", unit="epoch", disable=not progress)
        step = 0
        for epoch in epochs:
            epoch_started = time.perf_counter()
            order = rng.permutation(len(users))
            # The loss stays a tensor until the epoch ends: reading it after every step
            # would make Python wait for each step before queuing the next.
            total = tf.constant(0.0)
            for batch in range(n_batches):
                rows = order[batch * config.batch_size : (batch + 1) * config.batch_size]
                step += 1
                loss = train_step(
                    tf.constant(users[rows]), tf.constant(items[rows]), tf.constant([config.seed, step])
                )
                total += loss * len(rows)
            self.history.loss.append(float(total) / len(users))
            self.history.epoch_seconds.append(time.perf_counter() - epoch_started)
            if validation is not None and len(validation[0]):
                self.history.val_loss.append(self._mean_loss(validation_step, *validation))
            epochs.set_postfix(loss=f"{self.history.loss[-1]:.4f}")
            log.debug("epoch %d loss %.4f", epoch + 1, self.history.loss[-1])
        self.history.seconds = time.perf_counter() - started
        self.history.examples_per_second = len(users) * config.epochs / self.history.seconds
        if config.epochs > 1:
            later = sum(self.history.epoch_seconds[-config.epochs + 1 :])
            self.history.steady_examples_per_second = len(users) * (config.epochs - 1) / later
        log.info(
            "trained %d epochs on %d pairs in %.1f s (%.0f examples/s)",
            config.epochs, len(users), self.history.seconds, self.history.examples_per_second,
        )
        return self.history

    def _mean_loss(self, step, users: np.ndarray, items: np.ndarray) -> float:
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        # Fixed batches in a fixed order keep the validation loss comparable across epochs.
        total = 0.0
        for start in range(0, len(users), self.config.batch_size):
            stop = start + self.config.batch_size
            seed = tf.constant([self.config.seed, -1 - start])
            total += float(step(tf.constant(users[start:stop]), tf.constant(items[start:stop]), seed)) * len(users[start:stop])
        return total / len(users)

    def user_embeddings(self, users: np.ndarray | None = None) -> np.ndarray:
        """Return the embeddings of the given users (default: all).

        The first ``embedding_dim`` columns are a unit vector. With ``item_bias`` a last
        column of ones follows, which picks up the item offset in the inner product.
        """
        users = np.arange(self.n_users) if users is None else np.asarray(users, dtype=np.int64)
        return self._embed_all(self.user_tower, self.user_features, users)

    def item_embeddings(self, items: np.ndarray | None = None) -> np.ndarray:
        """Return the embeddings of the given items (default: all).

        The first ``embedding_dim`` columns are a unit vector. With ``item_bias`` a last
        column contains the item's offset times the temperature.
        """
        items = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        return self._embed_all(self.item_tower, self.item_features, items)

    @staticmethod
    def _embed_all(tower: keras.Model, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(rows), 8192):
            chunk = rows[start : start + 8192]
            outputs.append(
                tower({"index": chunk.astype(np.int32), "features": features[chunk]}, training=False)
            )
        if not outputs:
            return np.zeros((0, tower.output_shape[-1]), dtype=np.float32)
        return np.concatenate([np.asarray(output) for output in outputs]).astype(np.float32)

    def embed_new_users(self, features: np.ndarray) -> np.ndarray:
        """Return embeddings of users the model never saw, from their features alone.

        ``features`` has one row per user, encoded like the training users' features
        (same columns and scalers). The id embedding is the unknown-id slot, which only
        learns something when the model was trained with ``id_dropout`` > 0. With an item
        offset, the vectors end with the constant column of :meth:`user_embeddings`.
        """
        features = np.atleast_2d(np.asarray(features, dtype=np.float32))
        if features.shape[1] != self.user_features.shape[1]:
            raise ValueError(
                f"new users have {features.shape[1]} feature columns but the model was "
                f"trained on {self.user_features.shape[1]}; encode them with the training "
                "feature encoder"
            )
        unknown = np.full(len(features), self.n_users, dtype=np.int32)
        output = self.user_tower({"index": unknown, "features": features}, training=False)
        return np.asarray(output, dtype=np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        """Return the scores of ``users`` against every item (users x items).

        A score is the cosine of the two unit vectors plus, with ``item_bias``, the item's
        offset times the temperature. Items rank in the order of the training logits.
        """
        if not hasattr(self, "_item_matrix"):
            self._item_matrix = self.item_embeddings()
        return self.user_embeddings(users) @ self._item_matrix.T

    def predict_proba(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Return the engagement probability of pairs under the bce loss's sigmoid."""
        if self.config.loss != "bce":
            raise ConfigurationError(
                "predict_proba needs a model trained with loss='bce'; the softmax loss "
                "gives scores for ranking, not calibrated probabilities"
            )
        user_vectors = self.user_embeddings(users)
        item_vectors = self.item_embeddings(items)
        logits = np.sum(user_vectors * item_vectors, axis=1) / self.config.temperature
        logits = logits + float(self.bias.numpy())
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, folder: str | Path) -> Path:
        """Write both towers (native Keras format), the feature matrices and the config."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.user_tower.save(folder / "user_tower.keras")
        self.item_tower.save(folder / "content_tower.keras")
        np.save(folder / "user_features.npy", self.user_features)
        np.save(folder / "item_features.npy", self.item_features)
        state = {
            "config": asdict(self.config),
            "bias": float(self.bias.numpy()),
            "history": asdict(self.history),
        }
        (folder / "two_tower.json").write_text(json.dumps(state, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TwoTowerModel:
        """Load a model written by :meth:`save`."""
        folder = Path(folder)
        state = json.loads((folder / "two_tower.json").read_text())
        # Models saved before the item offset existed have plain unit vectors.
        state["config"].setdefault("item_bias", False)
        config = TwoTowerConfig(**state["config"])
        model = cls.__new__(cls)
        model.config = config
        model.user_features = np.load(folder / "user_features.npy")
        model.item_features = np.load(folder / "item_features.npy")
        model.user_tower = keras.models.load_model(folder / "user_tower.keras")
        model.item_tower = keras.models.load_model(folder / "content_tower.keras")
        model.bias = tf.Variable(state["bias"], dtype=tf.float32, name="bce_bias")
        model.history = TrainingHistory(**state["history"])
        return model
