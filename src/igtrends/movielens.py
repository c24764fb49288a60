"""Load the MovieLens 100K ratings, users and movies as typed tables.

MovieLens 100K (GroupLens, ``ml-100k``) contains 100,000 ratings from 1 to 5 given by
943 users to 1,682 movies between September 1997 and April 1998. igtrends uses it as a
public interaction data set for the two-tower model. Its licence allows research use
only and forbids redistribution, so it is read from a local folder or downloaded into a
cache folder, and neither may be committed.

NOTE: the default cache folder, data/external, is not yet listed in .gitignore.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
import requests
from tqdm.auto import tqdm

from igtrends.errors import DatasetError
from igtrends.log import get_logger

logger = get_logger("movielens")

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

#: MD5 digests of the files of the official ml-100k release.
ML100K_MD5: Mapping[str, str] = {
    "u.data": "6e47046882bad158b0efbb84cd5cb987",
    "u.item": "c9e7f390115d79079537301d5204f3f7",
    "u.user": "1b53539edc13caad0282c8500608a319",
}

#: Genre names in the order of the 19 genre flags of u.item (the order of u.genre).
ML100K_GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

_ZIP_NAME = "ml-100k.zip"
_ZIP_FOLDER = "ml-100k"
_CHUNK_BYTES = 1 << 16


def genre_column(genre: str) -> str:
    """Return the items column name of a genre, e.g. ``"Children's"`` -> ``"genre_children_s"``."""
    return "genre_" + re.sub(r"[^0-9a-z]", "_", genre.lower())


@dataclass(frozen=True)
class MovieLens:
    """The three MovieLens 100K tables.

    Attributes:
        ratings: One row per rating in file order: ``user_id`` (str), ``item_id`` (str),
            ``rating`` (int8, 1 to 5) and ``time`` (datetime64[ns, UTC]).
        users: One row per user: ``user_id`` (str, unique), ``age`` (int64),
            ``gender`` ("M" or "F"), ``occupation`` (str) and ``zip_code`` (str,
            because some codes are Canadian and contain letters).
        items: One row per movie: ``item_id`` (str, unique), ``title`` (str),
            ``release_year`` (nullable Int64, <NA> where the release date is missing)
            and one bool column per genre named by :func:`genre_column`, in the
            order of :data:`ML100K_GENRES`. A movie can have several genres.
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame


def load_movielens(
    data_dir: str | Path | None = None,
    *,
    cache_dir: Path = Path("data/external"),
    url: str = ML100K_URL,
    progress: bool = True,
    verify: bool = True,
    timeout: float = 60.0,
) -> MovieLens:
    """Load MovieLens 100K from a local folder, or download it into a cache first.

    Args:
        data_dir: Folder that contains ``u.data``, ``u.user`` and ``u.item`` (the
            unpacked ``ml-100k`` folder). When None, the zip is downloaded from ``url``
            into ``cache_dir`` unless a verified copy is already there.
        cache_dir: Folder for ``ml-100k.zip`` and the extracted files. Relative paths
            are resolved against the current working directory.
        url: Address of ``ml-100k.zip``.
        progress: Show a tqdm progress bar while downloading.
        verify: Check the MD5 digests of the three files against the official release.
            Pass False only to load a copy that was modified on purpose.
        timeout: Seconds to wait for the server to connect or to send the next bytes.

    Returns:
        The ratings, users and items tables.

    Raises:
        DatasetError: A file is missing, cannot be parsed or fails its checksum, or
            the download failed.
    """
    if data_dir is None:
        folder = _download_and_extract(
            Path(cache_dir), url=url, progress=progress, verify=verify, timeout=timeout
        )
    else:
        folder = Path(data_dir)
        _check_folder(folder)
        if verify:
            for name, expected in ML100K_MD5.items():
                _check_digest(name, _md5_file(folder / name), expected, source=folder / name)

    dataset = MovieLens(
        ratings=_read_ratings(folder / "u.data"),
        users=_read_users(folder / "u.user"),
        items=_read_items(folder / "u.item"),
    )
    logger.info(
        "loaded MovieLens 100K from %s: %d ratings, %d users, %d items",
        folder,
        len(dataset.ratings),
        len(dataset.users),
        len(dataset.items),
    )
    return dataset


# Files and checksums


def _check_folder(folder: Path) -> None:
    how_to_fix = (
        "Pass the unpacked ml-100k folder as data_dir (--data-dir on the command line), "
        "or omit it to download MovieLens 100K."
    )
    if not folder.is_dir():
        raise DatasetError(f"MovieLens folder not found: {folder}. {how_to_fix}")
    for name in ML100K_MD5:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"MovieLens file not found: {path}. {how_to_fix}")


def _md5_stream(stream: IO[bytes]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter(lambda: stream.read(_CHUNK_BYTES), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _md5_file(path: Path) -> str:
    with path.open("rb") as stream:
        return _md5_stream(stream)


def _check_digest(name: str, actual: str, expected: str, *, source: Path | str) -> None:
    if actual != expected:
        raise DatasetError(
            f"{name} from {source} failed its MD5 checksum: expected {expected}, got {actual}. "
            "The file is damaged or is not the official MovieLens 100K release. "
            "Download ml-100k.zip again, or pass verify=False to load a copy "
            "that was modified on purpose."
        )


def _zip_digests(zip_path: Path) -> dict[str, str]:
    """Return the MD5 digest of each required file inside the zip.

    Raises:
        DatasetError: The zip is unreadable or lacks one of the files.
    """
    digests = {}
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for name in ML100K_MD5:
                member = f"{_ZIP_FOLDER}/{name}"
                try:
                    with archive.open(member) as stream:
                        digests[name] = _md5_stream(stream)
                except KeyError:
                    raise DatasetError(
                        f"{zip_path} has no member {member}, so it is not the MovieLens 100K "
                        "zip. Check the download URL, or pass the unpacked ml-100k folder "
                        "as data_dir."
                    ) from None
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(
            f"{zip_path} is not a readable zip file ({error}). Check the download URL, "
            "or pass the unpacked ml-100k folder as data_dir."
        ) from error
    return digests


def _check_zip(zip_path: Path, *, verify: bool) -> None:
    digests = _zip_digests(zip_path)
    if verify:
        for name, expected in ML100K_MD5.items():
            _check_digest(name, digests[name], expected, source=zip_path)


# Download


def _download_and_extract(
    cache_dir: Path, *, url: str, progress: bool, verify: bool, timeout: float
) -> Path:
    """Make sure a checked zip is in ``cache_dir``, extract it and return the data folder."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    zip_path = cache_dir / _ZIP_NAME

    cached = False
    if zip_path.is_file():
        try:
            _check_zip(zip_path, verify=verify)
            cached = True
            logger.info("using cached %s", zip_path)
        except DatasetError as error:
            logger.warning("cached zip is unusable and will be downloaded again: %s", error)

    if not cached:
        _download_zip(url, zip_path, progress=progress, verify=verify, timeout=timeout)

    folder = cache_dir / _ZIP_FOLDER
    _extract(zip_path, folder)
    return folder


def _download_zip(url: str, zip_path: Path, *, progress: bool, verify: bool, timeout: float) -> None:
    """Download ``url`` to ``zip_path``, which appears only once the zip is complete and checked."""
    logger.info("downloading %s to %s", url, zip_path)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{_ZIP_NAME}.", suffix=".part", dir=zip_path.parent
    )
    temp_path = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as output:
            _stream_to(url, output, progress=progress, timeout=timeout)
        _check_zip(temp_path, verify=verify)
        os.replace(temp_path, zip_path)
    finally:
        temp_path.unlink(missing_ok=True)


def _stream_to(url: str, output: IO[bytes], *, progress: bool, timeout: float) -> None:
    how_to_fix = (
        "Check the network and the URL, or download ml-100k.zip by hand, unpack it "
        "and pass the ml-100k folder as data_dir."
    )
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise DatasetError(
                    f"download of {url} failed with HTTP status {response.status_code}. {how_to_fix}"
                )
            total = int(response.headers.get("Content-Length", 0)) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=_ZIP_NAME,
                disable=not progress,
            ) as bar:
                for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                    output.write(chunk)
                    bar.update(len(chunk))
    except requests.Timeout as error:
        raise DatasetError(f"download of {url} timed out after {timeout} s. {how_to_fix}") from error
    except requests.RequestException as error:
        raise DatasetError(f"download of {url} failed: {error}. {how_to_fix}") from error


def _extract(zip_path: Path, folder: Path) -> None:
    """Extract the required files unless the same bytes are already in ``folder``.

    Each file is written under a temporary name and renamed, so an interrupted run
    leaves no truncated file behind.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for name in ML100K_MD5:
            target = folder / name
            member = archive.getinfo(f"{_ZIP_FOLDER}/{name}")
            if target.is_file() and target.stat().st_size == member.file_size:
                with archive.open(member) as stream:
                    if _md5_stream(stream) == _md5_file(target):
                        continue
            temp_path = target.with_name(f".{name}.part")
            with archive.open(member) as source, temp_path.open("wb") as output:
                for chunk in iter(lambda: source.read(_CHUNK_BYTES), b""):
                    output.write(chunk)
            os.replace(temp_path, target)
            logger.info("extracted %s", target)


# Parsing


def _read_table(path: Path, **read_csv_options: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=None, **read_csv_options)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DatasetError(
            f"{path} could not be parsed as a MovieLens 100K file: {error}. "
            "Replace it with the file from the official ml-100k.zip."
        ) from error


def _read_ratings(path: Path) -> pd.DataFrame:
    raw = _read_table(
        path,
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": "str", "item_id": "str", "rating": "int64", "timestamp": "int64"},
    )
    out_of_range = raw.loc[~raw["rating"].between(1, 5), "rating"]
    if not out_of_range.empty:
        raise DatasetError(
            f"{path} has {len(out_of_range)} ratings outside 1 to 5, "
            f"the first is {out_of_range.iloc[0]} on line {out_of_range.index[0] + 1}. "
            "Replace it with the file from the official ml-100k.zip."
        )
    return pd.DataFrame(
        {
            "user_id": raw["user_id"],
            "item_id": raw["item_id"],
            "rating": raw["rating"].astype("int8"),
            "time": pd.to_datetime(raw["timestamp"], unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
        }
    )


def _read_users(path: Path) -> pd.DataFrame:
    return _read_table(
        path,
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype={
            "user_id": "str",
            "age": "int64",
            "gender": "str",
            "occupation": "str",
            "zip_code": "str",
        },
    )


def _read_items(path: Path) -> pd.DataFrame:
    genre_columns = [genre_column(genre) for genre in ML100K_GENRES]
    raw = _read_table(
        path,
        sep="|",
        encoding="latin-1",
        names=["item_id", "title", "release_date", "video_release_date", "imdb_url", *genre_columns],
        dtype={"item_id": "str", "title": "str", "release_date": "str"}
        | {column: "int8" for column in genre_columns},
    )

    # Release dates look like "01-Jan-1995" or "4-Feb-1971". The year is taken with a regular
    # expression so that parsing does not depend on the locale's month names.
    release_year = raw["release_date"].str.extract(r"^\d{1,2}-\w{3}-(\d{4})$", expand=False)
    unparsed = raw["release_date"].notna() & release_year.isna()
    if unparsed.any():
        first = raw.loc[unparsed, "release_date"].iloc[0]
        raise DatasetError(
            f"{path} has {int(unparsed.sum())} release dates not in the form 01-Jan-1995, "
            f"the first is {first!r}. Replace it with the file from the official ml-100k.zip."
        )

    items = pd.DataFrame(
        {
            "item_id": raw["item_id"],
            "title": raw["title"],
            "release_year": pd.to_numeric(release_year).astype("Int64"),
        }
    )
    flags = raw[genre_columns]
    not_flags = ~flags.isin([0, 1]).all(axis=1)
    if not_flags.any():
        raise DatasetError(
            f"{path} has {int(not_flags.sum())} movies whose genre flags are not 0 or 1, "
            f"the first is item {raw.loc[not_flags, 'item_id'].iloc[0]}. "
            "Replace it with the file from the official ml-100k.zip."
        )
    for column in genre_columns:
        items[column] = flags[column].astype(bool)
    return items


def write_processed(movielens: MovieLens, folder: str | Path) -> dict[str, Path]:
    """Write the three tables to ``<folder>/<name>.parquet``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("ratings", "users", "items"):
        path = folder / f"{name}.parquet"
        getattr(movielens, name).to_parquet(path, index=False)
        paths[name] = path
    return paths


def read_processed(folder: str | Path) -> MovieLens:
    """Read tables written by :func:`write_processed`."""
    folder = Path(folder)
    missing = [name for name in ("ratings", "users", "items") if not (folder / f"{name}.parquet").exists()]
    if missing:
        raise DatasetError(
            f"MovieLens tables {missing} are missing in {folder}; run the collection "
            "notebook with dataset='movielens-100k' first"
        )
    return MovieLens(
        ratings=pd.read_parquet(folder / "ratings.parquet"),
        users=pd.read_parquet(folder / "users.parquet"),
        items=pd.read_parquet(folder / "items.parquet"),
    )
