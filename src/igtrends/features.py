"""Feature matrices for the towers, with scalers fitted on training rows only."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

from igtrends.datasets import FeatureColumns

UNSEEN = "<unseen>"


@dataclass
class FeatureEncoder:
    """Turn one side's feature columns into a float32 matrix.

    :meth:`fit` learns min-max ranges and category vocabularies from the training rows
    only; :meth:`transform` applies them to any rows. Values outside the training range
    are clipped to [0, 1]. A constant column scales to 0 rather than NaN, because
    scikit-learn's ``MinMaxScaler`` treats a zero range as a range of 1.
    """

    columns: FeatureColumns
    scaler: MinMaxScaler | None = None
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    missing_indicators: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)

    def _numeric_frame(self, table: pd.DataFrame) -> pd.DataFrame:
        frame = pd.DataFrame(index=table.index)
        for name in self.columns.numeric:
            frame[name] = pd.to_numeric(table[name], errors="coerce").astype("float64")
        for name in self.columns.log_numeric:
            values = pd.to_numeric(table[name], errors="coerce").astype("float64")
            frame[name] = np.log1p(values.clip(lower=0))
        return frame

    def fit(self, table: pd.DataFrame) -> FeatureEncoder:
        """Learn scaling ranges and vocabularies from ``table`` (training rows only)."""
        numeric = self._numeric_frame(table)
        self.missing_indicators = [name for name in numeric.columns if numeric[name].isna().any()]
        if len(numeric.columns):
            # A column missing in every training row has no median; it is filled with 0
            # and only its missing indicator carries information.
            self._medians = numeric.median().fillna(0.0)
            self.scaler = MinMaxScaler(clip=True).fit(numeric.fillna(self._medians).to_numpy())
        for name in self.columns.categorical:
            values = table[name].astype("string").fillna(UNSEEN)
            self.vocabularies[name] = sorted(set(values) - {UNSEEN})
        for name in self.columns.tags:
            counts = Counter(tag for tags in table[name] for tag in _tag_list(name, tags))
            # Tags in the most rows first, ties in alphabetical order, so the choice is stable.
            ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
            self.vocabularies[name] = [tag for tag, _ in ranked[: self.columns.max_tags]]
        self.feature_names = self._names()
        return self

    def _names(self) -> list[str]:
        names = [*self.columns.numeric, *self.columns.log_numeric]
        names += [f"{name}_missing" for name in self.missing_indicators]
        names += list(self.columns.binary)
        for name in self.columns.categorical:
            names += [f"{name}={value}" for value in self.vocabularies[name]] + [f"{name}={UNSEEN}"]
        for name in self.columns.tags:
            names += [f"{name}={value}" for value in self.vocabularies[name]]
        return names

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """Return the float32 feature matrix of ``table``, one row per table row."""
        parts: list[np.ndarray] = []
        numeric = self._numeric_frame(table)
        if len(numeric.columns):
            assert self.scaler is not None, "call fit before transform"
            parts.append(self.scaler.transform(numeric.fillna(self._medians).to_numpy()))
            for name in self.missing_indicators:
                parts.append(numeric[name].isna().to_numpy(np.float64)[:, None])
        for name in self.columns.binary:
            flags = table[name].astype("boolean").fillna(False).to_numpy(dtype=np.float64)
            parts.append(flags[:, None])
        for name in self.columns.categorical:
            vocabulary = self.vocabularies[name]
            lookup = {value: position for position, value in enumerate(vocabulary)}
            values = table[name].astype("string").fillna(UNSEEN)
            codes = np.array([lookup.get(value, len(vocabulary)) for value in values])
            one_hot = np.zeros((len(table), len(vocabulary) + 1))
            one_hot[np.arange(len(table)), codes] = 1.0
            parts.append(one_hot)
        for name in self.columns.tags:
            lookup = {value: position for position, value in enumerate(self.vocabularies[name])}
            multi_hot = np.zeros((len(table), len(lookup)))
            for row, tags in enumerate(table[name]):
                for tag in _tag_list(name, tags):
                    if tag in lookup:
                        multi_hot[row, lookup[tag]] = 1.0
            parts.append(multi_hot)
        if not parts:
            return np.zeros((len(table), 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)


def normalise_tag(tag: str) -> str:
    """Return ``tag`` as the tags columns store it: trimmed, lowercase, without '#'."""
    return tag.strip().lstrip("#").lower()


def _tag_list(name: str, tags: object) -> list[str]:
    """Return the distinct normalised tags of one cell. A missing cell or element gives none."""
    if tags is None or tags is pd.NA or (isinstance(tags, float) and np.isnan(tags)):
        return []
    if isinstance(tags, str) or not hasattr(tags, "__iter__"):
        raise TypeError(
            f"tags column {name!r} has an invalid cell {tags!r}; each cell must be a list of strings, "
            "such as ['travel', 'food'], or missing"
        )
    normalised = (normalise_tag(tag) for tag in tags if isinstance(tag, str))
    return list(dict.fromkeys(tag for tag in normalised if tag))


def encode_features(
    table: pd.DataFrame, columns: FeatureColumns, train_rows: np.ndarray
) -> tuple[np.ndarray, FeatureEncoder]:
    """Fit an encoder on ``table.iloc[train_rows]`` and transform the whole table."""
    encoder = FeatureEncoder(columns).fit(table.iloc[np.unique(train_rows)])
    return encoder.transform(table), encoder
