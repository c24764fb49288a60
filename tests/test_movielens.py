"""Tests of the MovieLens 100K loader against the real files and a local HTTP server."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from igtrends.errors import DatasetError
from igtrends.movielens import load_movielens

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
REQUIRED_FILES = ("u.data", "u.user", "u.item")

pytestmark = pytest.mark.skipif(
    not all((DATA_DIR / name).is_file() for name in REQUIRED_FILES),
    reason=f"MovieLens 100K files not found in {DATA_DIR}",
)


def raw_line(name: str, number: int, encoding: str = "ascii") -> str:
    """Return line ``number`` (1-based) of a raw file, without its line break."""
    with (DATA_DIR / name).open(encoding=encoding) as stream:
        for index, line in enumerate(stream, start=1):
            if index == number:
                return line.rstrip("\n")
    raise AssertionError(f"{name} has fewer than {number} lines")


@pytest.fixture(scope="module")
def movielens():
    return load_movielens(DATA_DIR, progress=False)


def build_zip(replacements: dict[str, bytes] | None = None) -> bytes:
    """Return a zip laid out like ml-100k.zip, with some files optionally replaced."""
    replacements = replacements or {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in REQUIRED_FILES:
            content = replacements.get(name, (DATA_DIR / name).read_bytes())
            archive.writestr(f"ml-100k/{name}", content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def good_zip() -> bytes:
    return build_zip()


# Tables read from the real files


def test_row_counts(movielens):
    # Counts stated in the MovieLens 100K README.
    assert len(movielens.ratings) == 100_000
    assert len(movielens.users) == 943
    assert len(movielens.items) == 1_682


def test_ratings_dtypes(movielens):
    ratings = movielens.ratings
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "time"]
    assert pd.api.types.is_string_dtype(ratings["user_id"])
    assert pd.api.types.is_string_dtype(ratings["item_id"])
    assert ratings["rating"].dtype == "int8"
    assert ratings["time"].dtype == "datetime64[ns, UTC]"
    assert ratings["rating"].between(1, 5).all()


def test_users_dtypes(movielens):
    users = movielens.users
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users["user_id"].is_unique
    assert pd.api.types.is_string_dtype(users["user_id"])
    assert users["age"].dtype == "int64"
    assert set(users["gender"]) == {"M", "F"}
    assert pd.api.types.is_string_dtype(users["zip_code"])


def test_items_columns_and_dtypes(movielens):
    items = movielens.items
    genre_columns = [column for column in items.columns if column.startswith("genre_")]
    assert list(items.columns[:3]) == ["item_id", "title", "release_year"]
    assert len(genre_columns) == 19
    assert list(items.columns[3:]) == genre_columns
    for name in ("genre_unknown", "genre_children_s", "genre_film_noir", "genre_sci_fi"):
        assert name in genre_columns
    assert genre_columns[0] == "genre_unknown"
    assert genre_columns[-1] == "genre_western"
    assert items["item_id"].is_unique
    assert items["release_year"].dtype == "Int64"
    for column in genre_columns:
        assert items[column].dtype == bool


def test_first_rating_matches_raw_line(movielens):
    user_id, item_id, rating, timestamp = raw_line("u.data", 1).split("\t")
    first = movielens.ratings.iloc[0]
    assert first["user_id"] == user_id
    assert first["item_id"] == item_id
    assert first["rating"] == int(rating)
    assert first["time"] == datetime.fromtimestamp(int(timestamp), tz=timezone.utc)


def test_last_rating_matches_raw_line(movielens):
    user_id, item_id, rating, timestamp = raw_line("u.data", 100_000).split("\t")
    last = movielens.ratings.iloc[-1]
    assert last["user_id"] == user_id
    assert last["item_id"] == item_id
    assert last["rating"] == int(rating)
    assert last["time"] == datetime.fromtimestamp(int(timestamp), tz=timezone.utc)


def test_user_with_letters_in_zip_code(movielens):
    # Line 74 of u.user is a Canadian postal code, which must stay text.
    user_id, age, gender, occupation, zip_code = raw_line("u.user", 74).split("|")
    row = movielens.users.set_index("user_id").loc[user_id]
    assert row["age"] == int(age)
    assert row["gender"] == gender
    assert row["occupation"] == occupation
    assert row["zip_code"] == zip_code
    assert not zip_code.isdigit()


def test_user_zip_code_keeps_leading_zero(movielens):
    leading_zero = [
        line.split("|")
        for line in (DATA_DIR / "u.user").read_text(encoding="ascii").splitlines()
        if line.split("|")[4].startswith("0")
    ]
    assert leading_zero, "u.user should contain a zip code with a leading zero"
    user_id, *_, zip_code = leading_zero[0]
    assert movielens.users.set_index("user_id").loc[user_id, "zip_code"] == zip_code


def test_item_matches_raw_line(movielens):
    # Line 2 is GoldenEye (1995), released 01-Jan-1995, flagged Action, Adventure, Thriller.
    fields = raw_line("u.item", 2, encoding="latin-1").split("|")
    genre_flags = [flag == "1" for flag in fields[5:]]
    row = movielens.items.set_index("item_id").loc[fields[0]]
    assert row["title"] == fields[1]
    assert row["release_year"] == int(fields[2][-4:])
    genre_values = [bool(value) for value in row.iloc[2:]]
    assert genre_values == genre_flags
    assert row["genre_action"]
    assert row["genre_adventure"]
    assert row["genre_thriller"]
    assert not row["genre_comedy"]


def test_latin1_title_decoded(movielens):
    lines = (DATA_DIR / "u.item").read_text(encoding="latin-1").splitlines()
    non_ascii = [line.split("|") for line in lines if not line.isascii()]
    assert non_ascii, "u.item should contain a title outside ASCII"
    item_id, title = non_ascii[0][:2]
    assert movielens.items.set_index("item_id").loc[item_id, "title"] == title


def test_missing_release_year_is_na(movielens):
    lines = (DATA_DIR / "u.item").read_text(encoding="latin-1").splitlines()
    missing = [line.split("|")[0] for line in lines if line.split("|")[2] == ""]
    assert missing, "u.item should contain a movie without a release date"
    release_year = movielens.items.set_index("item_id")["release_year"]
    for item_id in missing:
        assert release_year.loc[item_id] is pd.NA
    assert int(release_year.isna().sum()) == len(missing)


# Errors for a local folder


def test_missing_folder_error(tmp_path):
    folder = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError) as caught:
        load_movielens(folder, progress=False)
    message = str(caught.value)
    assert str(folder) in message
    assert "ml-100k folder" in message
    assert "--data-dir" in message


def test_missing_file_error(tmp_path):
    for name in ("u.data", "u.user"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    with pytest.raises(DatasetError) as caught:
        load_movielens(tmp_path, progress=False)
    message = str(caught.value)
    assert str(tmp_path / "u.item") in message
    assert "--data-dir" in message


def test_folder_checksum_mismatch(tmp_path):
    for name in REQUIRED_FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    # Change the rating of the first line from 3 to 4, which keeps the file valid.
    lines = (tmp_path / "u.data").read_text().splitlines(keepends=True)
    assert lines[0] == "196\t242\t3\t881250949\n"
    lines[0] = "196\t242\t4\t881250949\n"
    (tmp_path / "u.data").write_text("".join(lines))

    with pytest.raises(DatasetError) as caught:
        load_movielens(tmp_path, progress=False)
    message = str(caught.value)
    assert "u.data" in message
    assert "checksum" in message
    assert "6e47046882bad158b0efbb84cd5cb987" in message
    assert "verify=False" in message

    modified = load_movielens(tmp_path, progress=False, verify=False)
    assert modified.ratings["rating"].iloc[0] == 4


def test_rating_out_of_range_rejected(tmp_path):
    for name in REQUIRED_FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    lines = (tmp_path / "u.data").read_text().splitlines(keepends=True)
    lines[9] = "1\t1\t7\t881250949\n"
    (tmp_path / "u.data").write_text("".join(lines))
    with pytest.raises(DatasetError, match=r"outside 1 to 5, the first is 7 on line 10"):
        load_movielens(tmp_path, progress=False, verify=False)


# Download from a local HTTP server


def test_download_then_cache(httpserver, tmp_path, good_zip):
    httpserver.expect_request("/ml-100k.zip").respond_with_data(
        good_zip, content_type="application/zip"
    )
    url = httpserver.url_for("/ml-100k.zip")

    first = load_movielens(url=url, cache_dir=tmp_path, progress=False)
    assert len(httpserver.log) == 1
    assert (tmp_path / "ml-100k.zip").read_bytes() == good_zip
    for name in REQUIRED_FILES:
        assert (tmp_path / "ml-100k" / name).read_bytes() == (DATA_DIR / name).read_bytes()
    assert len(first.ratings) == 100_000

    second = load_movielens(url=url, cache_dir=tmp_path, progress=False)
    assert len(httpserver.log) == 1
    pd.testing.assert_frame_equal(first.ratings, second.ratings)
    pd.testing.assert_frame_equal(first.items, second.items)

    leftovers = [path.name for path in tmp_path.iterdir() if path.name.endswith(".part")]
    assert leftovers == []


def test_download_with_progress_bar(httpserver, tmp_path, good_zip):
    httpserver.expect_request("/ml-100k.zip").respond_with_data(good_zip)
    dataset = load_movielens(url=httpserver.url_for("/ml-100k.zip"), cache_dir=tmp_path)
    assert len(dataset.users) == 943


def test_corrupted_zip_rejected(httpserver, tmp_path):
    original = (DATA_DIR / "u.data").read_bytes()
    damaged = original.replace(b"196\t242\t3\t", b"196\t242\t4\t", 1)
    assert damaged != original
    httpserver.expect_request("/ml-100k.zip").respond_with_data(build_zip({"u.data": damaged}))

    with pytest.raises(DatasetError) as caught:
        load_movielens(url=httpserver.url_for("/ml-100k.zip"), cache_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert "u.data" in message
    assert "checksum" in message
    assert "6e47046882bad158b0efbb84cd5cb987" in message
    # A zip that fails its checksum is not kept, so the next call downloads again.
    assert not (tmp_path / "ml-100k.zip").exists()
    assert list(tmp_path.iterdir()) == []


def test_damaged_cache_downloaded_again(httpserver, tmp_path, good_zip):
    (tmp_path / "ml-100k.zip").write_bytes(b"not a zip")
    httpserver.expect_request("/ml-100k.zip").respond_with_data(good_zip)
    dataset = load_movielens(
        url=httpserver.url_for("/ml-100k.zip"), cache_dir=tmp_path, progress=False
    )
    assert len(httpserver.log) == 1
    assert (tmp_path / "ml-100k.zip").read_bytes() == good_zip
    assert len(dataset.items) == 1_682


def test_http_error_status(httpserver, tmp_path):
    httpserver.expect_request("/ml-100k.zip").respond_with_data("gone", status=404)
    url = httpserver.url_for("/ml-100k.zip")
    with pytest.raises(DatasetError) as caught:
        load_movielens(url=url, cache_dir=tmp_path, progress=False)
    message = str(caught.value)
    assert "404" in message
    assert url in message
    assert not (tmp_path / "ml-100k.zip").exists()


def test_zip_without_members(httpserver, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "wrong archive")
    httpserver.expect_request("/ml-100k.zip").respond_with_data(buffer.getvalue())
    with pytest.raises(DatasetError, match=r"has no member ml-100k/u\.data"):
        load_movielens(url=httpserver.url_for("/ml-100k.zip"), cache_dir=tmp_path, progress=False)
