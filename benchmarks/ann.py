"""Benchmark the exact and HNSW back ends of igtrends.retrieval on synthetic embeddings.

Item and query vectors are 64-dimensional and unit length, drawn from one of two sets:

- ``clustered``: a mixture of 1,000 Gaussian clusters. Each centre is a standard normal
  vector, and each point is its centre plus standard normal noise (the same scale as the
  centres), then unit-normalised. Queries are independent draws from the same mixture.
- ``uniform``: uniformly random directions (normalised standard normal vectors), the
  worst case for graph indexes.

``--item-offsets MEAN STD`` appends the column that a two-tower model with item offsets
adds: each item gets a value drawn from a normal distribution, each query a 1, so a
score is the cosine plus the item's offset and the search is a maximum inner-product
search over vectors of unequal length.

For each set and size the script reports build time, memory, queries per second (QPS)
and recall@10 of HNSW against exact search at several ``ef`` settings. HNSW queries run
on one thread. The exact back end runs query batches on two threads and also gives the
ground truth.

Usage::

    .venv/bin/python benchmarks/ann.py --items 100000 1000000 --output ann.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from igtrends.retrieval import ExactIndex, HNSWIndex


def rss_bytes() -> int:
    """Return the resident set size of this process (Linux ``/proc``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def make_vectors(kind: str, n: int, dim: int, rng: np.random.Generator, centres: np.ndarray | None) -> np.ndarray:
    """Draw ``n`` unit vectors of the ``clustered`` or ``uniform`` kind."""
    vectors = np.empty((n, dim), dtype=np.float32)
    # Chunks keep the float64 temporaries small at a million rows.
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        noise = rng.standard_normal((size, dim))
        if kind == "clustered":
            assert centres is not None
            noise += centres[rng.integers(0, len(centres), size)]
        vectors[start : start + size] = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return vectors


def append_offsets(
    items: np.ndarray, queries: np.ndarray, offsets: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Append a normal offset column to ``items`` and a column of ones to ``queries``."""
    mean, std = offsets
    column = rng.normal(mean, std, (len(items), 1)).astype(np.float32)
    ones = np.ones((len(queries), 1), dtype=np.float32)
    return np.hstack([items, column]), np.hstack([queries, ones])


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Return the mean share of the true top k found, per query."""
    hits = [len(np.intersect1d(row, true_row)) for row, true_row in zip(found, truth)]
    return float(np.mean(hits)) / truth.shape[1]


def time_queries(search, queries: np.ndarray, batch: int) -> tuple[np.ndarray, float]:
    """Run ``search`` over ``queries`` in batches; return positions and queries per second."""
    parts = []
    started = time.perf_counter()
    for start in range(0, len(queries), batch):
        parts.append(search(queries[start : start + batch]))
    seconds = time.perf_counter() - started
    return np.vstack(parts), len(queries) / seconds


def bench_exact(
    items: np.ndarray, queries: np.ndarray, k: int, threads: int, engine: str = "numpy", batch: int = 4096
) -> tuple[dict, np.ndarray]:
    before = rss_bytes()
    started = time.perf_counter()
    index = ExactIndex(
        items, metric="inner_product", threads=threads, query_block=256, item_block=16384, engine=engine
    )
    build = time.perf_counter() - started
    memory = rss_bytes() - before
    found, qps = time_queries(lambda block: index.search(block, k).positions, queries, batch=batch)
    row = {
        "backend": f"exact ({engine} engine)", "build_s": build, "memory_mb": index.memory_bytes / 2**20,
        "rss_delta_mb": memory / 2**20, "threads": threads, "batch": batch, "qps": qps,
    }
    return row, found


def bench_hnswlib(items, queries, truth, k, m, ef_construction, efs, build_threads) -> list[dict]:
    before = rss_bytes()
    started = time.perf_counter()
    index = HNSWIndex(items, metric="inner_product", m=m, ef_construction=ef_construction, threads=build_threads)
    build = time.perf_counter() - started
    memory = rss_bytes() - before
    index.threads = 1
    rows = []
    for ef in efs:
        index.set_ef(ef)
        found, qps = time_queries(lambda block: index.search(block, k).positions, queries, batch=len(queries))
        rows.append({
            "backend": "hnswlib", "m": m, "ef_construction": ef_construction, "ef": ef,
            "build_s": build, "memory_mb": index.memory_bytes / 2**20, "rss_delta_mb": memory / 2**20,
            "threads": 1, "qps": qps, "recall@10": recall_at_k(found, truth),
        })
    del index
    return rows


def bench_faiss_hnsw(items, queries, truth, k, m, ef_construction, efs, build_threads) -> list[dict]:
    import faiss

    faiss.omp_set_num_threads(build_threads)
    before = rss_bytes()
    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(items.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(items)
    build = time.perf_counter() - started
    memory = rss_bytes() - before
    faiss.omp_set_num_threads(1)
    rows = []
    for ef in efs:
        index.hnsw.efSearch = ef
        found, qps = time_queries(lambda block: index.search(block, k)[1], queries, batch=len(queries))
        rows.append({
            "backend": "faiss IndexHNSWFlat", "m": m, "ef_construction": ef_construction, "ef": ef,
            "build_s": build, "memory_mb": None, "rss_delta_mb": memory / 2**20,
            "threads": 1, "qps": qps, "recall@10": recall_at_k(found, truth),
        })
    del index
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000], help="item counts")
    parser.add_argument("--kinds", nargs="+", default=["clustered", "uniform"], choices=["clustered", "uniform"])
    parser.add_argument("--queries", type=int, default=10_000, help="queries per set (default: %(default)s)")
    parser.add_argument("--dim", type=int, default=64, help="dimensions (default: %(default)s)")
    parser.add_argument("--clusters", type=int, default=1000, help="mixture components (default: %(default)s)")
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128, 256], help="HNSW ef settings")
    parser.add_argument("--m", type=int, default=16, help="HNSW links per node (default: %(default)s)")
    parser.add_argument("--ef-construction", type=int, default=200, help="HNSW build ef (default: %(default)s)")
    parser.add_argument("--build-threads", type=int, default=2, help="threads for HNSW builds (default: %(default)s)")
    parser.add_argument("--exact-threads", type=int, default=2, help="threads for exact search (default: %(default)s)")
    parser.add_argument(
        "--faiss-max-items", type=int, default=100_000,
        help="also benchmark faiss HNSW on sets up to this many items (default: %(default)s)",
    )
    parser.add_argument("--exact-batch", type=int, default=4096,
                        help="queries per exact search call (default: %(default)s)")
    parser.add_argument("--exact-only", action="store_true", help="measure the exact back end only")
    parser.add_argument(
        "--item-offsets", type=float, nargs=2, metavar=("MEAN", "STD"),
        help="append a normal item offset column (and ones to the queries), as a model with item offsets does",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write all rows as JSON to this file")
    args = parser.parse_args(argv)

    k = 10
    rows: list[dict] = []
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim))
    print(f"python {platform.python_version()}, numpy {np.__version__}, cores {os.cpu_count()}", file=sys.stderr)
    for n in args.items:
        for kind in args.kinds:
            items = make_vectors(kind, n, args.dim, rng, centres)
            queries = make_vectors(kind, args.queries, args.dim, rng, centres)
            setting = {"items": n, "kind": kind, "queries": args.queries, "load_before": os.getloadavg()[0]}
            if args.item_offsets:
                items, queries = append_offsets(items, queries, tuple(args.item_offsets), rng)
                setting["kind"] = f"{kind} + offset"
                setting["item_offsets"] = list(args.item_offsets)
            exact_row, truth = bench_exact(items, queries, k, args.exact_threads, batch=args.exact_batch)
            rows.append({**setting, **exact_row})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            # faiss's flat index is the same exhaustive search; its recall against the
            # NumPy engine checks that, and differs from 1 only where scores tie.
            faiss_row, faiss_found = bench_exact(
                items, queries, k, args.exact_threads, engine="faiss", batch=args.exact_batch
            )
            rows.append({**setting, **faiss_row, "recall@10": recall_at_k(faiss_found, truth)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if args.exact_only:
                continue
            for row in bench_hnswlib(items, queries, truth, k, args.m, args.ef_construction, args.ef, args.build_threads):
                rows.append({**setting, **row})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if n <= args.faiss_max_items:
                for row in bench_faiss_hnsw(items, queries, truth, k, args.m, args.ef_construction, args.ef, args.build_threads):
                    rows.append({**setting, **row})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if args.output:
                args.output.write_text(json.dumps(rows, indent=2))
            del items, queries, truth

    print("| items | set | back end | ef | build s | memory MiB | threads | QPS | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        memory = row["memory_mb"] if row["memory_mb"] is not None else row["rss_delta_mb"]
        recall = f"{row['recall@10']:.4f}" if "recall@10" in row else "1 (reference)"
        print(
            f"| {row['items']:,} | {row['kind']} | {row['backend']} | {row.get('ef', '-')} | "
            f"{row['build_s']:.1f} | {memory:.0f} | {row['threads']} | {row['qps']:,.0f} | {recall} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
