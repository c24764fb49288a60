"""The parts of a saved model folder beyond the towers: encoders, index and manifest.

:func:`igtrends.training.save_trained` writes one folder that contains everything a
recommender needs, so loading it needs nothing from the run that made it:

- ``model/``: both towers in native Keras format, the feature matrices and the config
- ``split.npz``, ``protocol.json``, ``config.json``: the training pairs and the ids
- ``encoders.json``: the feature columns, scalers and vocabularies fitted on training rows
- ``index/``: the item index (:mod:`igtrends.retrieval`)
- ``manifest.json``: package versions, training parameters, a data fingerprint, metrics
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from igtrends.datasets import FeatureColumns
from igtrends.errors import ArtifactError
from igtrends.features import FeatureEncoder

ARTIFACT_FORMAT = 1
"""Version of the folder layout; :func:`read_manifest` rejects other versions."""
MANIFEST_FILE = "manifest.json"
ENCODERS_FILE = "encoders.json"
INDEX_FOLDER = "index"
RECORDED_PACKAGES = (
    "igtrends", "numpy", "pandas", "scikit-learn", "tensorflow", "keras", "hnswlib", "faiss-cpu",
)

_SCALER_ARRAYS = ("data_min_", "data_max_", "data_range_", "scale_", "min_")


def encoder_to_dict(encoder: FeatureEncoder) -> dict[str, Any]:
    """Return the fitted state of ``encoder`` as JSON-ready values."""
    state: dict[str, Any] = {
        "columns": asdict(encoder.columns),
        "vocabularies": encoder.vocabularies,
        "missing_indicators": encoder.missing_indicators,
        "feature_names": encoder.feature_names,
        "scaler": None,
        "medians": None,
    }
    if encoder.scaler is not None:
        scaler = encoder.scaler
        state["scaler"] = {
            "feature_range": list(scaler.feature_range),
            "clip": bool(scaler.clip),
            "n_samples_seen": int(scaler.n_samples_seen_),
            **{name: np.asarray(getattr(scaler, name)).tolist() for name in _SCALER_ARRAYS},
        }
        medians = getattr(encoder, "_medians")
        state["medians"] = {str(name): float(value) for name, value in medians.items()}
    return state


def encoder_from_dict(state: dict[str, Any]) -> FeatureEncoder:
    """Rebuild a fitted :class:`FeatureEncoder` from :func:`encoder_to_dict` output."""
    encoder = FeatureEncoder(FeatureColumns(**state["columns"]))
    encoder.vocabularies = {name: list(values) for name, values in state["vocabularies"].items()}
    encoder.missing_indicators = list(state["missing_indicators"])
    encoder.feature_names = list(state["feature_names"])
    if state["scaler"] is not None:
        saved = state["scaler"]
        scaler = MinMaxScaler(feature_range=tuple(saved["feature_range"]), clip=saved["clip"])
        for name in _SCALER_ARRAYS:
            setattr(scaler, name, np.asarray(saved[name], dtype=np.float64))
        scaler.n_features_in_ = len(saved["data_min_"])
        scaler.n_samples_seen_ = saved["n_samples_seen"]
        encoder.scaler = scaler
        encoder._medians = pd.Series(state["medians"], dtype="float64")
    return encoder


def write_encoders(folder: Path, user_encoder: FeatureEncoder, item_encoder: FeatureEncoder) -> None:
    """Write both fitted encoders to ``folder / encoders.json``."""
    state = {"user": encoder_to_dict(user_encoder), "item": encoder_to_dict(item_encoder)}
    (folder / ENCODERS_FILE).write_text(json.dumps(state, indent=2))


def read_encoders(folder: Path) -> tuple[FeatureEncoder, FeatureEncoder] | None:
    """Return the (user, item) encoders of ``folder``, or None for a folder saved without them."""
    path = folder / ENCODERS_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return encoder_from_dict(state["user"]), encoder_from_dict(state["item"])


def interactions_sha256(interactions: pd.DataFrame) -> str:
    """Return the SHA-256 of the distinct (user_id, item_id) pairs, sorted, one per line.

    Row order and duplicate rows do not change the fingerprint; any added, removed or
    renamed pair does.
    """
    pairs = interactions[["user_id", "item_id"]].astype(str).drop_duplicates()
    pairs = pairs.sort_values(["user_id", "item_id"], kind="stable")
    digest = hashlib.sha256()
    for user_id, item_id in pairs.itertuples(index=False):
        digest.update(f"{user_id}\t{item_id}\n".encode())
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Return the installed version of each recorded package (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_manifest(folder: Path, contents: dict[str, Any]) -> Path:
    """Write ``manifest.json`` with the format version, creation time and package versions."""
    manifest = {
        "format": ARTIFACT_FORMAT,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": package_versions(),
        **contents,
    }
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=2, default=_json_default))
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read ``manifest.json``; raise :class:`ArtifactError` when absent or of another format."""
    path = folder / MANIFEST_FILE
    if not path.exists():
        raise ArtifactError(
            f"no {MANIFEST_FILE} in {folder}; save the model with igtrends.training.save_trained "
            "(igtrends run does this in its training notebook)"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{path} has format {manifest.get('format')!r} but this igtrends reads format "
            f"{ARTIFACT_FORMAT}; save the model again with this version"
        )
    return manifest


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
