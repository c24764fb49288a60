"""Nearest-neighbour search over item embeddings, exact or approximate.

One interface, :class:`ItemIndex`, has two back ends:

- :class:`ExactIndex` scores every item with batched matrix products (BLAS) and keeps
  the top k per query. It is exact, and ties go to the item added first.
- :class:`HNSWIndex` searches a hierarchical navigable small-world graph built with
  ``hnswlib``. It is approximate: ``ef_search`` trades speed for recall.

``hnswlib`` was chosen over ``faiss.IndexHNSWFlat``. With the same graph settings
both reach the same recall@10 at each ``ef``. On clustered vectors ``hnswlib`` served
more queries per second on one core at every ``ef`` measured, while faiss built
faster. ``benchmarks/ann.py`` measures both (results in ``docs/benchmarks.md``).

Both back ends rank by ``cosine`` similarity (vectors are unit-normalised on the way in)
or by raw ``inner_product``. The two-tower model's embeddings are unit length, so both
metrics rank items like the model's own scores.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from igtrends.errors import ConfigurationError
from igtrends.log import get_logger

log = get_logger("retrieval")

Metric = Literal["cosine", "inner_product"]
METRICS: tuple[str, ...] = ("cosine", "inner_product")
BACKENDS: tuple[str, ...] = ("exact", "hnsw")
INDEX_FILE = "index.json"


@dataclass
class SearchResult:
    """Top-k items per query, best first.

    ``positions`` are row positions into the index (-1 pads a row when fewer than k
    items remain after exclusion), ``scores`` the cosine or inner-product scores
    (-inf where padded) and ``ids`` the item ids (``None`` where padded).
    """

    positions: np.ndarray
    scores: np.ndarray
    ids: np.ndarray

    def ids_of(self, row: int) -> list:
        """Return the item ids of query ``row``, without padding."""
        return [item for item, position in zip(self.ids[row], self.positions[row]) if position >= 0]


def as_float32_matrix(vectors: Any, name: str, dim: int | None = None) -> np.ndarray:
    """Return ``vectors`` as a C-contiguous float32 matrix, rejecting bad shapes and NaN.

    Accepts any array-like: float64, non-contiguous slices and Fortran-ordered arrays
    are copied into the layout BLAS and hnswlib expect. A 1-d vector becomes one row.
    """
    matrix = np.asarray(vectors)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (rows x dimensions); got shape {matrix.shape}")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers; got dtype {matrix.dtype}")
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(
            f"{name} have {matrix.shape[1]} dimensions but the index has {dim}; embed them "
            "with the same model as the items"
        )
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise ValueError(f"{name} row {row} contains NaN or infinity; fix or drop that row")
    return matrix


def unit_normalise(matrix: np.ndarray) -> np.ndarray:
    """Return the rows of ``matrix`` scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def check_ids(ids: Any, n_items: int) -> np.ndarray:
    """Return ``ids`` as an array, or positions 0..n-1 when ``ids`` is None.

    Raises ValueError on a length mismatch or a duplicate id, naming the id.
    """
    if ids is None:
        return np.arange(n_items)
    ids = np.asarray(ids)
    if ids.dtype == object:
        # Saved without pickle, so ids are stored as fixed-width strings.
        ids = ids.astype(str)
    if ids.ndim != 1 or len(ids) != n_items:
        raise ValueError(f"got {ids.size} ids for {n_items} vectors; pass one id per vector")
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        duplicate = values[counts > 1][0].item()
        raise ValueError(
            f"item id {duplicate!r} appears {int(counts[counts > 1][0])} times; every item "
            "needs a distinct id, so drop or rename the duplicates"
        )
    return ids


class ItemIndex(ABC):
    """A searchable set of item vectors with ids.

    Subclasses implement :meth:`_search_positions` and :meth:`_save_data`/:meth:`_load_data`.
    """

    backend: str = ""

    def __init__(self, vectors: Any, ids: Any = None, metric: Metric = "cosine") -> None:
        if metric not in METRICS:
            raise ConfigurationError(f"metric={metric!r} is unknown; use one of {list(METRICS)}")
        matrix = as_float32_matrix(vectors, "item vectors")
        self.metric: str = metric
        self.dim: int = matrix.shape[1]
        self.ids: np.ndarray = check_ids(ids, len(matrix))
        self._positions = {item: position for position, item in enumerate(self.ids.tolist())}
        self._build(unit_normalise(matrix) if metric == "cosine" else matrix)

    def __len__(self) -> int:
        return len(self.ids)

    def positions_of(self, ids: Sequence) -> np.ndarray:
        """Return the row positions of item ``ids``; raise KeyError naming an unknown id."""
        positions = []
        for item in ids:
            if item not in self._positions:
                raise KeyError(f"item id {item!r} is not in the index")
            positions.append(self._positions[item])
        return np.asarray(positions, dtype=np.int64)

    def search(
        self,
        queries: Any,
        k: int,
        exclude: Sequence[Sequence[int]] | None = None,
    ) -> SearchResult:
        """Return the ``k`` best items for each query row, best first.

        ``exclude[row]`` lists item positions that must not appear for that query (for
        example items the user already engaged with). ``k`` larger than the number of
        items returns every item that is not excluded, and rows are padded with -1 to
        ``min(k, len(self))`` columns.
        """
        if k < 1:
            raise ValueError(f"k={k!r} must be at least 1")
        matrix = as_float32_matrix(queries, "queries", self.dim)
        if self.metric == "cosine":
            matrix = unit_normalise(matrix)
        if exclude is not None and len(exclude) != len(matrix):
            raise ValueError(
                f"exclude has {len(exclude)} rows for {len(matrix)} queries; pass one list per query"
            )
        width = min(k, len(self))
        extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
        fetch = min(width + extra, len(self))
        positions, scores = self._search_positions(matrix, fetch)
        if exclude is not None and extra:
            positions, scores = _drop_excluded(positions, scores, exclude, width)
        positions, scores = positions[:, :width], scores[:, :width]
        ids = np.empty(positions.shape, dtype=object)
        valid = positions >= 0
        ids[valid] = self.ids[positions[valid]]
        return SearchResult(positions, scores, ids)

    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder``: ``index.json``, the ids and the back end's data."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "index_ids.npy", self.ids, allow_pickle=False)
        state = {"backend": self.backend, "metric": self.metric, "dim": self.dim, "n_items": len(self)}
        state.update(self._save_data(folder))
        (folder / INDEX_FILE).write_text(json.dumps(state, indent=2))
        return folder

    @abstractmethod
    def _build(self, matrix: np.ndarray) -> None: ...

    @abstractmethod
    def _search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (positions, scores) of the k best items per query, best first."""

    @abstractmethod
    def _save_data(self, folder: Path) -> dict: ...

    @classmethod
    @abstractmethod
    def _load_data(cls, folder: Path, state: dict, ids: np.ndarray) -> ItemIndex: ...

    def _restore(self, state: dict, ids: np.ndarray) -> None:
        self.metric = state["metric"]
        self.dim = int(state["dim"])
        self.ids = ids
        self._positions = {item: position for position, item in enumerate(ids.tolist())}


def _drop_excluded(
    positions: np.ndarray, scores: np.ndarray, exclude: Sequence[Sequence[int]], width: int
) -> tuple[np.ndarray, np.ndarray]:
    kept_positions = np.full((len(positions), width), -1, dtype=np.int64)
    kept_scores = np.full((len(positions), width), -np.inf, dtype=np.float32)
    for row, excluded in enumerate(exclude):
        keep = ~np.isin(positions[row], np.asarray(excluded, dtype=np.int64)) & (positions[row] >= 0)
        row_positions = positions[row][keep][:width]
        kept_positions[row, : len(row_positions)] = row_positions
        kept_scores[row, : len(row_positions)] = scores[row][keep][:width]
    return kept_positions, kept_scores


class ExactIndex(ItemIndex):
    """Exact top-k by matrix products over blocks of queries and items.

    Each query block is multiplied by one block of items at a time. The first item block
    sets each query's k-th best score as a threshold, and later blocks only pass items
    that beat the current threshold to the merge, so selection costs a comparison per
    score rather than a partial sort.

    Args:
        threads: Python threads that search query blocks in parallel, each with one BLAS
            thread. ``None`` searches in one Python thread and leaves BLAS threading as
            configured.
        query_block: Queries multiplied at once.
        item_block: Items multiplied at once; a score block is query_block x item_block
            float32 values.
        engine: ``"numpy"`` multiplies with NumPy's BLAS and selects in NumPy, with ties
            going to the lower position. ``"faiss"`` hands the same exhaustive search to
            ``faiss.IndexFlatIP`` (BLAS products, selection in C++), which is faster at a
            million items, but orders tied scores as faiss does.
    """

    backend = "exact"

    def __init__(
        self,
        vectors: Any,
        ids: Any = None,
        metric: Metric = "cosine",
        *,
        threads: int | None = None,
        query_block: int = 512,
        item_block: int = 16384,
        engine: Literal["numpy", "faiss"] = "numpy",
    ) -> None:
        if engine not in ("numpy", "faiss"):
            raise ConfigurationError(f"engine={engine!r} is unknown; use 'numpy' or 'faiss'")
        self.threads = threads
        self.query_block = query_block
        self.item_block = item_block
        self.engine = engine
        super().__init__(vectors, ids, metric)

    def _build(self, matrix: np.ndarray) -> None:
        self.vectors = matrix
        self._faiss_index = None
        if self.engine == "faiss":
            import faiss

            self._faiss_index = faiss.IndexFlatIP(matrix.shape[1])
            self._faiss_index.add(np.ascontiguousarray(matrix, dtype=np.float32))

    @property
    def memory_bytes(self) -> int:
        """Bytes of the stored item vectors."""
        return int(self.vectors.nbytes)

    def _search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._faiss_index is not None:
            scores, positions = self._faiss_index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
            return positions.astype(np.int64), scores
        blocks = [queries[start : start + self.query_block] for start in range(0, len(queries), self.query_block)]
        if not blocks:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
        if self.threads is None or self.threads <= 1 or len(blocks) == 1:
            results = [exact_top_k(block, self.vectors, k, self.item_block) for block in blocks]
        else:
            from threadpoolctl import threadpool_limits

            # One BLAS thread per Python thread, so the threads do not oversubscribe the cores.
            with threadpool_limits(limits=1, user_api="blas"):
                with ThreadPoolExecutor(self.threads) as pool:
                    results = list(
                        pool.map(lambda block: exact_top_k(block, self.vectors, k, self.item_block), blocks)
                    )
        positions = np.vstack([result[0] for result in results])
        scores = np.vstack([result[1] for result in results])
        return positions, scores

    def _save_data(self, folder: Path) -> dict:
        np.save(folder / "vectors.npy", self.vectors, allow_pickle=False)
        return {"query_block": self.query_block, "item_block": self.item_block, "engine": self.engine}

    @classmethod
    def _load_data(cls, folder: Path, state: dict, ids: np.ndarray) -> ExactIndex:
        index = cls.__new__(cls)
        index._restore(state, ids)
        index.threads = None
        index.query_block = int(state["query_block"])
        index.item_block = int(state["item_block"])
        index.engine = state.get("engine", "numpy")
        index._build(np.load(folder / "vectors.npy", allow_pickle=False))
        return index


def exact_top_k(
    queries: np.ndarray, items: np.ndarray, k: int, item_block: int = 16384
) -> tuple[np.ndarray, np.ndarray]:
    """Return positions and scores of the ``k`` items with the largest dot product per query.

    Rows are sorted by score, best first; equal scores keep the lower position first.
    ``k`` must not exceed ``len(items)``.
    """
    n_queries = len(queries)
    first = max(item_block, k)
    scores = queries @ items[:first].T
    # The k-th largest score of the first block is a lower bound on the final k-th
    # largest, so only scores at or above it can be in the top k.
    kth = np.partition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k]
    rows, columns = np.nonzero(scores >= kth[:, None])
    best_positions, best_scores = _merge_top_k(
        n_queries, k, rows, columns.astype(np.int64), scores[rows, columns], None, None
    )
    for start in range(first, len(items), item_block):
        scores = queries @ items[start : start + item_block].T
        # Strictly greater: an equal score at a later position loses the tie.
        rows, columns = np.nonzero(scores > best_scores[:, -1:])
        if len(rows) == 0:
            continue
        best_positions, best_scores = _merge_top_k(
            n_queries, k, rows, columns.astype(np.int64) + start, scores[rows, columns],
            best_positions, best_scores,
        )
    return best_positions, best_scores


def _merge_top_k(
    n_queries: int,
    k: int,
    rows: np.ndarray,
    positions: np.ndarray,
    scores: np.ndarray,
    best_positions: np.ndarray | None,
    best_scores: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    if best_positions is not None and best_scores is not None:
        rows = np.concatenate([np.repeat(np.arange(n_queries), k), rows])
        positions = np.concatenate([best_positions.ravel(), positions])
        scores = np.concatenate([best_scores.ravel(), scores])
    order = np.lexsort((positions, -scores, rows))
    rows, positions, scores = rows[order], positions[order], scores[order]
    starts = np.searchsorted(rows, np.arange(n_queries))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    return positions[keep].reshape(n_queries, k), scores[keep].reshape(n_queries, k).astype(np.float32)


class HNSWIndex(ItemIndex):
    """Approximate top-k with an HNSW graph (``hnswlib``).

    Args:
        m: Links per node; more links raise recall and memory.
        ef_construction: Candidate list size while building; larger builds slower and better.
        ef_search: Candidate list size while searching (at least k is used); the main
            speed and recall setting.
        threads: Threads for building and searching (-1: all cores).
        seed: Random seed of the level assignment.
    """

    backend = "hnsw"

    def __init__(
        self,
        vectors: Any,
        ids: Any = None,
        metric: Metric = "cosine",
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 64,
        threads: int = -1,
        seed: int = 100,
    ) -> None:
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.threads = threads
        self.seed = seed
        super().__init__(vectors, ids, metric)

    def _build(self, matrix: np.ndarray) -> None:
        import hnswlib

        # Cosine vectors are normalised before they arrive, so both metrics use the
        # inner-product space, whose distance is 1 - dot product.
        self.graph = hnswlib.Index(space="ip", dim=self.dim)
        self.graph.init_index(
            max_elements=max(len(matrix), 1), M=self.m, ef_construction=self.ef_construction,
            random_seed=self.seed,
        )
        if len(matrix):
            self.graph.add_items(matrix, np.arange(len(matrix)), num_threads=self.threads)
        self.graph.set_ef(self.ef_search)

    def set_ef(self, ef_search: int) -> None:
        """Set the candidate list size of later searches."""
        self.ef_search = ef_search
        self.graph.set_ef(ef_search)

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes of the graph: vectors plus 2m links of 4 bytes on the base layer."""
        return int(len(self) * (self.dim * 4 + 2 * self.m * 4 + 4 + 8))

    def _search_positions(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if len(queries) == 0:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k), dtype=np.float32)
        # hnswlib raises when it finds fewer than k neighbours, so search with ef >= k.
        if self.ef_search < k:
            self.graph.set_ef(k)
        try:
            labels, distances = self.graph.knn_query(queries, k=k, num_threads=self.threads)
        finally:
            self.graph.set_ef(self.ef_search)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def _save_data(self, folder: Path) -> dict:
        self.graph.save_index(str(folder / "hnsw.bin"))
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search, "seed": self.seed}

    @classmethod
    def _load_data(cls, folder: Path, state: dict, ids: np.ndarray) -> HNSWIndex:
        import hnswlib

        index = cls.__new__(cls)
        index._restore(state, ids)
        index.m = int(state["m"])
        index.ef_construction = int(state["ef_construction"])
        index.ef_search = int(state["ef_search"])
        index.seed = int(state["seed"])
        index.threads = -1
        index.graph = hnswlib.Index(space="ip", dim=index.dim)
        index.graph.load_index(str(folder / "hnsw.bin"), max_elements=max(len(ids), 1))
        index.graph.set_ef(index.ef_search)
        return index


def build_index(
    vectors: Any, ids: Any = None, *, backend: str = "exact", metric: Metric = "cosine", **options: Any
) -> ItemIndex:
    """Build an index of ``vectors`` with the ``exact`` or ``hnsw`` back end.

    ``options`` go to :class:`ExactIndex` or :class:`HNSWIndex`.
    """
    if backend == "exact":
        return ExactIndex(vectors, ids, metric, **options)
    if backend == "hnsw":
        return HNSWIndex(vectors, ids, metric, **options)
    raise ConfigurationError(f"backend={backend!r} is unknown; use one of {list(BACKENDS)}")


def load_index(folder: str | Path) -> ItemIndex:
    """Load an index written by :meth:`ItemIndex.save`."""
    folder = Path(folder)
    path = folder / INDEX_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {INDEX_FILE} in {folder}; save an index there first")
    state = json.loads(path.read_text())
    ids = np.load(folder / "index_ids.npy", allow_pickle=False)
    backends: dict[str, type[ItemIndex]] = {"exact": ExactIndex, "hnsw": HNSWIndex}
    if state.get("backend") not in backends:
        raise ConfigurationError(
            f"{path} names backend {state.get('backend')!r}; this version reads {list(backends)}"
        )
    return backends[state["backend"]]._load_data(folder, state, ids)
