"""Tests of the feature encoder: scaling on training rows, missing values and categories."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from igtrends.datasets import FeatureColumns
from igtrends.errors import ConfigurationError
from igtrends.features import UNSEEN, FeatureEncoder, encode_features


def column(matrix: np.ndarray, encoder: FeatureEncoder, name: str) -> np.ndarray:
    return matrix[:, encoder.feature_names.index(name)]


# Min-max scaling


def test_minmax_uses_training_rows_only():
    # Training rows 0..2 have 0, 5, 10, so the range is [0, 10]: 5 -> 0.5. Test row 3
    # has 40, which is past the training maximum and clips to 1.
    table = pd.DataFrame({"followers": [0.0, 5.0, 10.0, 40.0]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["followers"]), np.array([0, 1, 2]))
    assert column(matrix, encoder, "followers").tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert encoder.scaler.data_min_.tolist() == [0.0]
    assert encoder.scaler.data_max_.tolist() == [10.0]


def test_minmax_range_unchanged_by_transform():
    table = pd.DataFrame({"followers": [0.0, 5.0, 10.0]})
    encoder = FeatureEncoder(FeatureColumns(numeric=["followers"])).fit(table)
    encoder.transform(pd.DataFrame({"followers": [40.0, -20.0]}))
    # A later transform of ordinary rows gives the same values as before.
    again = encoder.transform(pd.DataFrame({"followers": [5.0]}))
    assert again[0, 0] == pytest.approx(0.5)
    assert encoder.scaler.data_max_.tolist() == [10.0]


def test_minmax_clips_below_training_minimum():
    table = pd.DataFrame({"followers": [10.0, 20.0]})
    encoder = FeatureEncoder(FeatureColumns(numeric=["followers"])).fit(table)
    matrix = encoder.transform(pd.DataFrame({"followers": [0.0, 15.0]}))
    # 0 is below the training minimum 10 and clips to 0. 15 is halfway, so it gives 0.5.
    assert matrix[:, 0].tolist() == pytest.approx([0.0, 0.5])


def test_train_rows_repeated_fit_once():
    # Training positions name rows once per interaction, so row 1 appears three times.
    # The range still comes from rows 0 and 1 only: [2, 4], so 3 -> 0.5 and 8 -> 1.
    table = pd.DataFrame({"age": [2.0, 4.0, 3.0, 8.0]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["age"]), np.array([1, 0, 1, 1]))
    assert column(matrix, encoder, "age").tolist() == pytest.approx([0.0, 1.0, 0.5, 1.0])


def test_constant_column_gives_zero():
    # A zero range would divide by zero in a hand-written min-max. Training rows give 0
    # and a larger test value is clipped to 1.
    table = pd.DataFrame({"media_count": [3.0, 3.0, 3.0, 5.0]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["media_count"]), np.array([0, 1, 2]))
    values = column(matrix, encoder, "media_count")
    assert not np.isnan(values).any()
    assert values.tolist() == pytest.approx([0.0, 0.0, 0.0, 1.0])


def test_output_is_float32():
    table = pd.DataFrame({"a": [1.0, 2.0]})
    matrix, _ = encode_features(table, FeatureColumns(numeric=["a"]), np.array([0, 1]))
    assert matrix.dtype == np.float32
    assert matrix.shape == (2, 1)


# Missing values


def test_missing_value_adds_indicator_column():
    # Training values 0, 10, 2 and one missing. The indicator is 1 on the missing row only.
    table = pd.DataFrame({"followers": [0.0, 10.0, 2.0, np.nan]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["followers"]), np.arange(4))
    assert encoder.feature_names == ["followers", "followers_missing"]
    assert column(matrix, encoder, "followers_missing").tolist() == [0.0, 0.0, 0.0, 1.0]


def test_missing_value_is_filled_with_training_median():
    # The median of the training values 0, 10, 2 is 2, which scales to 2 / 10 = 0.2.
    table = pd.DataFrame({"followers": [0.0, 10.0, 2.0, np.nan]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["followers"]), np.arange(4))
    assert not np.isnan(matrix).any()
    assert column(matrix, encoder, "followers")[3] == pytest.approx(0.2)


def test_no_indicator_without_missing_training_values():
    table = pd.DataFrame({"followers": [0.0, 10.0, np.nan]})
    matrix, encoder = encode_features(table, FeatureColumns(numeric=["followers"]), np.array([0, 1]))
    assert encoder.feature_names == ["followers"]
    # The median of 0 and 10 is 5, which scales to 0.5.
    assert matrix[2, 0] == pytest.approx(0.5)


def test_nullable_integer_counts_are_read():
    # Counts arrive as nullable Int64 with <NA>. log1p of 0 and 6 gives 0 and log 7, the
    # training range. The missing row gets the indicator and the median log 7 / 2, so 0.5.
    counts = pd.array([0, 6, None], dtype="Int64")
    table = pd.DataFrame({"follower_count": counts})
    matrix, encoder = encode_features(table, FeatureColumns(log_numeric=["follower_count"]), np.arange(3))
    assert encoder.feature_names == ["follower_count", "follower_count_missing"]
    assert not np.isnan(matrix).any()
    assert column(matrix, encoder, "follower_count_missing").tolist() == [0.0, 0.0, 1.0]
    assert column(matrix, encoder, "follower_count").tolist() == pytest.approx([0.0, 1.0, 0.5])


@pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning")
def test_column_missing_in_all_training_rows():
    table = pd.DataFrame({"followers": [np.nan, np.nan, 7.0], "age": [1.0, 2.0, 3.0]})
    matrix, _ = encode_features(table, FeatureColumns(numeric=["followers", "age"]), np.array([0, 1]))
    assert not np.isnan(matrix).any()


# Log-scaled counts


def test_log_numeric_applies_log1p():
    # log1p of 0, e - 1 and e^2 - 1 is 0, 1, 2, which scales to 0, 0.5, 1. Without log1p
    # the middle value would be (e - 1) / (e^2 - 1) = 0.269.
    table = pd.DataFrame({"followers": [0.0, math.e - 1, math.e**2 - 1]})
    matrix, encoder = encode_features(table, FeatureColumns(log_numeric=["followers"]), np.arange(3))
    assert column(matrix, encoder, "followers").tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)


# Binary and categorical columns


def test_binary_column_as_zero_one():
    table = pd.DataFrame({"is_verified": pd.array([True, False, None], dtype="boolean")})
    matrix, encoder = encode_features(table, FeatureColumns(binary=["is_verified"]), np.arange(3))
    assert encoder.feature_names == ["is_verified"]
    assert matrix[:, 0].tolist() == [1.0, 0.0, 0.0]


def test_unseen_category_maps_to_unseen_slot():
    # The vocabulary comes from training rows 0..2 (photo, video), sorted. The test row's
    # "carousel" and the missing value both land in the <unseen> slot.
    table = pd.DataFrame({"media_type": ["photo", "video", "photo", "carousel", None]})
    matrix, encoder = encode_features(table, FeatureColumns(categorical=["media_type"]), np.array([0, 1, 2]))
    assert encoder.vocabularies == {"media_type": ["photo", "video"]}
    assert encoder.feature_names == [
        "media_type=photo",
        "media_type=video",
        f"media_type={UNSEEN}",
    ]
    expected = [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
    ]
    assert matrix.tolist() == expected


def test_feature_names_follow_matrix_columns():
    table = pd.DataFrame(
        {
            "age": [10.0, 20.0, np.nan],
            "followers": [0.0, math.e - 1, 0.0],
            "verified": [True, False, True],
            "kind": ["a", "b", "a"],
        }
    )
    columns = FeatureColumns(
        numeric=["age"], log_numeric=["followers"], binary=["verified"], categorical=["kind"]
    )
    matrix, encoder = encode_features(table, columns, np.arange(3))
    assert encoder.feature_names == [
        "age",
        "followers",
        "age_missing",
        "verified",
        "kind=a",
        "kind=b",
        f"kind={UNSEEN}",
    ]
    assert matrix.shape == (3, 7)
    # Row 1: age 20 is the maximum (1), followers log1p(e - 1) = 1 is the maximum (1),
    # age present (0), not verified (0), kind b.
    assert matrix[1].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


def test_no_columns_gives_empty_matrix():
    table = pd.DataFrame({"ignored": [1, 2, 3]})
    matrix, encoder = encode_features(table, FeatureColumns(), np.arange(3))
    assert matrix.shape == (3, 0)
    assert encoder.feature_names == []


# Tag lists


def test_tags_multi_hot_over_training_vocabulary():
    # Training rows 0..3 contain travel 3 times, food 2, art 1 and yoga 1. With max_tags 3
    # the vocabulary is travel, food, then art before yoga (tie, alphabetical order).
    # Row 4 is a test row: its "pets" is unknown and its "yoga" is outside the vocabulary,
    # so only travel is set. Row 5 is missing and gets no tags.
    table = pd.DataFrame(
        {
            "bio": [
                ["travel", "food"],
                ["travel", "art"],
                ["food", "travel", "yoga"],
                [],
                ["pets", "yoga", "travel", "pets", "pets", "pets"],
                None,
            ]
        }
    )
    columns = FeatureColumns(tags=["bio"], max_tags=3)
    matrix, encoder = encode_features(table, columns, np.arange(4))
    assert encoder.vocabularies == {"bio": ["travel", "food", "art"]}
    assert encoder.feature_names == ["bio=travel", "bio=food", "bio=art"]
    assert matrix.tolist() == [
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0],
        [1.0, 1.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
    ]


def test_tags_vocabulary_ignores_test_rows():
    # "pets" appears only in test rows, however often, so it gets no column.
    table = pd.DataFrame({"bio": [["art"], ["pets"], ["pets"], ["pets"]]})
    _, encoder = encode_features(table, FeatureColumns(tags=["bio"]), np.array([0]))
    assert encoder.vocabularies == {"bio": ["art"]}


def test_tags_string_cell_rejected():
    table = pd.DataFrame({"bio": ["travel food"]})
    with pytest.raises(TypeError, match="tags column 'bio' has an invalid cell 'travel food'.*list of strings"):
        encode_features(table, FeatureColumns(tags=["bio"]), np.arange(1))


def test_tags_counted_once_per_row_and_normalised():
    # x appears three times but in one row, y in two rows, so with max_tags 1 the
    # vocabulary is y. "#Y " and "Y" are y after trimming, lowercasing and dropping '#',
    # and a missing element is skipped.
    table = pd.DataFrame({"bio": [["x", "x", "x"], ["#Y "], ["Y", None]]})
    matrix, encoder = encode_features(table, FeatureColumns(tags=["bio"], max_tags=1), np.arange(3))
    assert encoder.vocabularies == {"bio": ["y"]}
    assert matrix[:, 0].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("max_tags", [0, -1, 2.5, True])
def test_invalid_max_tags_rejected(max_tags):
    with pytest.raises(ConfigurationError, match=f"max_tags={max_tags!r} is invalid; use a positive integer"):
        FeatureColumns(tags=["bio"], max_tags=max_tags)
