"""Tests of igtrends.retrieval, run against both back ends where they share behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from igtrends.retrieval import ExactIndex, HNSWIndex, build_index, exact_top_k, load_index

BACKENDS = ["exact", "hnsw"]


def random_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def brute_force(queries: np.ndarray, items: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Rank with a full argsort, the definition the back ends must match."""
    if metric == "cosine":
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        items = items / np.linalg.norm(items, axis=1, keepdims=True)
    scores = queries.astype(np.float64) @ items.astype(np.float64).T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_above_item_count_returns_all(backend):
    items = random_vectors(3, dim=4)
    index = build_index(items, ["a", "b", "c"], backend=backend)
    result = index.search(random_vectors(1, dim=4, seed=1), k=10)
    assert result.positions.shape == (1, 3)
    assert sorted(result.ids_of(0)) == ["a", "b", "c"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_ignores_vector_length(backend):
    # [3, 4] has length 5, so its cosine with [1, 0] is 3 / 5 = 0.6, the same as for
    # the unit vector [0.6, 0.8].
    index = build_index([[3.0, 4.0], [0.6, 0.8]], backend=backend, metric="cosine")
    result = index.search([[1.0, 0.0]], k=2)
    np.testing.assert_allclose(result.scores[0], [0.6, 0.6], rtol=1e-6)


def test_inner_product_keeps_vector_length():
    # Dot products with [1, 0]: 3 for [3, 4] and 0.6 for [0.6, 0.8].
    index = build_index([[0.6, 0.8], [3.0, 4.0]], backend="exact", metric="inner_product")
    result = index.search([[1.0, 0.0]], k=2)
    assert result.positions[0].tolist() == [1, 0]
    np.testing.assert_allclose(result.scores[0], [3.0, 0.6], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "layout",
    ["float64", "sliced", "fortran"],
)
def test_input_layouts_give_same_ids(backend, layout):
    base_items = random_vectors(200, dim=16, seed=2)
    base_queries = random_vectors(20, dim=16, seed=3)
    expected = build_index(base_items, backend=backend).search(base_queries, k=5).positions

    if layout == "float64":
        items, queries = base_items.astype(np.float64), base_queries.astype(np.float64)
    elif layout == "sliced":
        # Every second row and column of a wider matrix holds the same numbers.
        wide_items = np.zeros((400, 32), dtype=np.float32)
        wide_items[::2, ::2] = base_items
        wide_queries = np.zeros((40, 32), dtype=np.float32)
        wide_queries[::2, ::2] = base_queries
        items, queries = wide_items[::2, ::2], wide_queries[::2, ::2]
        assert not items.flags.c_contiguous
    else:
        items, queries = np.asfortranarray(base_items), np.asfortranarray(base_queries)
    result = build_index(items, backend=backend).search(queries, k=5)
    np.testing.assert_array_equal(result.positions, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_id_rejected(backend):
    with pytest.raises(ValueError, match="item id 'b' appears 2 times"):
        build_index(random_vectors(3), ["a", "b", "b"], backend=backend)


@pytest.mark.parametrize("metric", ["cosine", "inner_product"])
def test_exact_matches_brute_force(metric):
    items = random_vectors(1000, dim=8, seed=4)
    queries = random_vectors(50, dim=8, seed=5)
    # item_block=64 makes the search cross many blocks and merges.
    index = ExactIndex(items, metric=metric, item_block=64, query_block=16)
    result = index.search(queries, k=7)
    np.testing.assert_array_equal(result.positions, brute_force(queries, items, 7, metric))


def test_exact_threads_match_single_thread():
    items = random_vectors(500, seed=6)
    queries = random_vectors(100, seed=7)
    single = ExactIndex(items, item_block=50, query_block=10).search(queries, k=5)
    threaded = ExactIndex(items, item_block=50, query_block=10, threads=2).search(queries, k=5)
    np.testing.assert_array_equal(threaded.positions, single.positions)


def test_exact_ties_go_to_lower_position():
    # Four identical items tie for every query; positions 0 and 1 come first.
    items = np.ones((4, 3), dtype=np.float32)
    positions, _ = exact_top_k(np.ones((1, 3), dtype=np.float32), items, k=2, item_block=1)
    assert positions[0].tolist() == [0, 1]


def test_hnsw_recall_on_small_set():
    items = random_vectors(2000, dim=16, seed=8)
    queries = random_vectors(100, dim=16, seed=9)
    index = HNSWIndex(items, ef_search=200)
    found = index.search(queries, k=10).positions
    truth = brute_force(queries, items, 10, "cosine")
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, truth)])
    # 2,000 items with ef 200 visit most of the graph's neighbourhood, so HNSW is
    # near exact; 0.95 leaves room for the approximation.
    assert recall >= 0.95


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclude_removes_items(backend):
    # Query [1, 0] ranks the items [1, 0], [0.9, 0.1], [0.5, 0.5], [0, 1] in that order.
    items = [[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.0, 1.0]]
    index = build_index(items, ["w", "x", "y", "z"], backend=backend)
    result = index.search([[1.0, 0.0]], k=2, exclude=[[0]])
    assert result.ids_of(0) == ["x", "y"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclude_everything_pads_row(backend):
    index = build_index(random_vectors(3), backend=backend)
    result = index.search(random_vectors(1, seed=1), k=3, exclude=[[0, 1, 2]])
    assert result.positions[0].tolist() == [-1, -1, -1]
    assert result.ids_of(0) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_and_load_give_same_results(backend, tmp_path):
    items = random_vectors(300, seed=10)
    queries = random_vectors(30, seed=11)
    index = build_index(items, [f"item{i}" for i in range(300)], backend=backend)
    before = index.search(queries, k=10)
    index.save(tmp_path / "index")
    loaded = load_index(tmp_path / "index")
    after = loaded.search(queries, k=10)
    assert type(loaded) is type(index)
    np.testing.assert_array_equal(after.positions, before.positions)
    np.testing.assert_array_equal(after.ids, before.ids)


def test_query_dimension_mismatch_named():
    index = build_index(random_vectors(5, dim=4))
    with pytest.raises(ValueError, match="queries have 3 dimensions but the index has 4"):
        index.search(random_vectors(1, dim=3), k=1)


def test_nan_query_rejected():
    index = build_index(random_vectors(5, dim=4))
    with pytest.raises(ValueError, match="row 0 contains NaN"):
        index.search([[np.nan, 0.0, 0.0, 0.0]], k=1)


def test_unknown_backend_rejected():
    with pytest.raises(Exception, match="backend='annoy' is unknown"):
        build_index(random_vectors(5), backend="annoy")


# The faiss engine of the exact back end


def test_faiss_engine_matches_brute_force():
    items = random_vectors(500, dim=16, seed=3)
    queries = random_vectors(20, dim=16, seed=4)
    for metric in ("cosine", "inner_product"):
        index = ExactIndex(items, metric=metric, engine="faiss")
        result = index.search(queries, k=10)
        np.testing.assert_array_equal(result.positions, brute_force(queries, items, 10, metric))


def test_faiss_engine_acceptance_cases(tmp_path):
    # Three items with k = 10 return those three.
    three = ExactIndex(random_vectors(3, dim=4), ["a", "b", "c"], engine="faiss")
    assert sorted(three.search(random_vectors(1, dim=4, seed=1), k=10).ids_of(0)) == ["a", "b", "c"]

    # Under cosine, [3, 4] and [0.6, 0.8] are the same direction: both score 0.6 against [1, 0].
    pair = ExactIndex(np.array([[3.0, 4.0], [0.6, 0.8]]), engine="faiss")
    np.testing.assert_allclose(pair.search(np.array([[1.0, 0.0]]), k=2).scores, [[0.6, 0.6]], rtol=1e-6)

    # A float64 Fortran-ordered slice returns the ids of a float32 contiguous copy.
    items = random_vectors(200, dim=8, seed=5)
    queries64 = np.asfortranarray(random_vectors(10, dim=8, seed=6).astype(np.float64))[::2]
    index = ExactIndex(items, engine="faiss")
    expected = index.search(np.ascontiguousarray(queries64, dtype=np.float32), k=5).positions
    np.testing.assert_array_equal(index.search(queries64, k=5).positions, expected)

    # The engine survives a save and load.
    loaded = load_index(index.save(tmp_path / "faiss-exact"))
    assert loaded.engine == "faiss"
    np.testing.assert_array_equal(loaded.search(queries64, k=5).positions, expected)


def test_unknown_engine_rejected():
    with pytest.raises(Exception, match="engine='blas'"):
        ExactIndex(random_vectors(5), engine="blas")
