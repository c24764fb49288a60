"""The tidy tables of collected data, their pandera schemas and their Parquet files.

Four tables come out of the raw responses:

- ``users``: one row per account (``user_id`` unique).
- ``posts``: one row per post (``post_id`` unique).
- ``hashtags``: one row per hashtag of a post caption (``(post_id, hashtag)`` unique).
- ``engagements``: one row per user who liked or commented on a post
  (``(user_id, post_id, kind)`` unique). Likes carry no time, because the likers
  endpoint returns none.

Imported data sets can add a fifth, optional table:

- ``accounts``: one row per account of an account-level data set, such as a table of
  top influencers or of account features (``account_id`` unique). Unlike ``users``,
  ``is_verified`` may be missing, because many such tables lack it.

Imported posts may lack ``shortcode``, ``taken_at`` and ``media_type``, so those
columns accept missing values. Posts built from API responses always have them.

Counts are nullable ``Int64``: a count the API did not return is ``<NA>``, never 0,
and stays ``<NA>`` through the Parquet round trip.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError as PanderaSchemaError
from pandera.errors import SchemaErrors as PanderaSchemaErrors

from igtrends.errors import DatasetError, SchemaError
from igtrends.log import get_logger

__all__ = [
    "KINDS",
    "MEDIA_TYPES",
    "SCHEMAS",
    "OPTIONAL_TABLE_NAMES",
    "TABLE_NAMES",
    "empty_table",
    "read_tables",
    "validate",
    "write_tables",
]

log = get_logger("tables")

TABLE_NAMES = ("users", "posts", "hashtags", "engagements")
OPTIONAL_TABLE_NAMES = ("accounts",)
MEDIA_TYPES = ("photo", "video", "carousel")
KINDS = ("like", "comment")
UTC_TIME = pd.DatetimeTZDtype(unit="ns", tz="UTC")

_NON_NEGATIVE = pa.Check.ge(0)
_LOWERCASE_TAG = pa.Check(
    lambda tags: tags.str.fullmatch(r"[^#\sA-Z]+") & (tags == tags.str.lower()),
    error="hashtag must be non-empty, lowercase, without '#' or spaces",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "users": pa.DataFrameSchema(
        {
            "user_id": pa.Column(str, unique=True),
            "username": pa.Column(str),
            "full_name": pa.Column(str, nullable=True),
            "is_verified": pa.Column(bool),
            "is_private": pa.Column("boolean", nullable=True),
            "follower_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "following_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "media_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            # Tables built by earlier versions have no biography column, and they stay valid.
            "biography": pa.Column(str, nullable=True, required=False),
        },
        strict=True,
        name="users",
    ),
    "posts": pa.DataFrameSchema(
        {
            "post_id": pa.Column(str, unique=True),
            "shortcode": pa.Column(str, nullable=True),
            "owner_id": pa.Column(str),
            "taken_at": pa.Column(UTC_TIME, nullable=True),
            "media_type": pa.Column(str, pa.Check.isin(MEDIA_TYPES), nullable=True),
            "like_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "comment_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "caption": pa.Column(str, nullable=True),
        },
        strict=True,
        name="posts",
    ),
    "hashtags": pa.DataFrameSchema(
        {
            "post_id": pa.Column(str),
            "hashtag": pa.Column(str, _LOWERCASE_TAG),
        },
        strict=True,
        unique=["post_id", "hashtag"],
        name="hashtags",
    ),
    "engagements": pa.DataFrameSchema(
        {
            "user_id": pa.Column(str),
            "post_id": pa.Column(str),
            "kind": pa.Column(str, pa.Check.isin(KINDS)),
            "time": pa.Column(UTC_TIME, nullable=True),
        },
        strict=True,
        unique=["user_id", "post_id", "kind"],
        name="engagements",
    ),
    "accounts": pa.DataFrameSchema(
        {
            "account_id": pa.Column(str, unique=True),
            "username": pa.Column(str, nullable=True),
            "follower_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "following_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "media_count": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "is_verified": pa.Column("boolean", nullable=True),
            "is_private": pa.Column("boolean", nullable=True),
            "has_profile_pic": pa.Column("boolean", nullable=True),
            "is_fake": pa.Column("boolean", nullable=True),
            "country": pa.Column(str, nullable=True),
            "avg_likes": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "new_post_avg_like": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            "total_likes": pa.Column("Int64", _NON_NEGATIVE, nullable=True),
            # A fraction, so 0.0139 is 1.39 %.
            "engagement_rate_60d": pa.Column("Float64", _NON_NEGATIVE, nullable=True),
        },
        strict=True,
        name="accounts",
    ),
}

_MAX_SHOWN_FAILURES = 5


def empty_table(name: str) -> pd.DataFrame:
    """Return a table with no rows and the schema's columns and dtypes."""
    schema = _schema(name)
    return pd.DataFrame(
        {column: pd.Series(dtype=spec.dtype.type) for column, spec in schema.columns.items()}
    )


def validate(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check a table against its schema and return it unchanged.

    Raises:
        SchemaError: If a column is missing, extra or of the wrong dtype, or values
            break a check. The message names the table, each failing column and check,
            and up to five bad values.
    """
    schema = _schema(name)
    try:
        return schema.validate(df, lazy=True)
    except PanderaSchemaErrors as errors:
        raise SchemaError(_describe_failures(name, errors.failure_cases)) from None
    except PanderaSchemaError as error:  # raised by checks that cannot run lazily
        raise SchemaError(f"table {name!r} does not match its schema: {error}") from None


def write_tables(tables: Mapping[str, pd.DataFrame], folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Validate tables and write each one to ``<folder>/<name>.parquet`` atomically.

    Every table is validated before any file is written, so an invalid table leaves
    the folder as it was.

    Returns:
        The path of each written file by table name.

    Raises:
        SchemaError: If a table does not match its schema or has an unknown name.
    """
    validated = {name: validate(name, df) for name, df in tables.items()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    paths: dict[str, Path] = {}
    for name, df in validated.items():
        path = folder / f"{name}.parquet"
        ordered = df[[column for column in SCHEMAS[name].columns if column in df.columns]].reset_index(drop=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".parquet.tmp")
        os.close(handle)
        try:
            ordered.to_parquet(temporary, index=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        log.info("wrote %d rows to %s", len(ordered), path)
        paths[name] = path
    return paths


def read_tables(
    folder: str | os.PathLike[str], names: tuple[str, ...] = TABLE_NAMES
) -> dict[str, pd.DataFrame]:
    """Read and validate the Parquet tables of a folder.

    Raises:
        DatasetError: If a file is missing. The message names the file and how to
            produce it.
        SchemaError: If a file does not match its schema.
    """
    folder = Path(folder)
    tables: dict[str, pd.DataFrame] = {}
    for name in names:
        path = folder / f"{name}.parquet"
        if not path.exists():
            raise DatasetError(
                f"table file {path} is missing. Produce it by crawling and building the "
                "tables: igtrends.tables.write_tables(igtrends.collect.build_tables("
                f"raw_store), {str(folder)!r}), or run the collection notebook."
            )
        tables[name] = validate(name, pd.read_parquet(path))
    return tables


def _schema(name: str) -> pa.DataFrameSchema:
    try:
        return SCHEMAS[name]
    except KeyError:
        known = [*TABLE_NAMES, *OPTIONAL_TABLE_NAMES]
        raise SchemaError(f"unknown table {name!r}; known tables are {known}") from None


def _describe_failures(name: str, failures: pd.DataFrame) -> str:
    lines = [f"table {name!r} does not match its schema:"]
    for (column, check), group in failures.groupby(["column", "check"], dropna=False, sort=False):
        values = group["failure_case"].head(_MAX_SHOWN_FAILURES).tolist()
        more = len(group) - len(values)
        suffix = f" and {more} more" if more > 0 else ""
        if check == "column_in_schema":
            lines.append(f"  extra columns not in the schema: {values!r}{suffix}")
        elif check == "column_in_dataframe":
            lines.append(f"  missing columns: {values!r}{suffix}")
        else:
            lines.append(f"  column {column!r} fails {check}: bad values {values!r}{suffix}")
    return "\n".join(lines)
