"""Import tables that researchers already have into the tidy tables of igtrends.

:func:`accounts_from_frame` and :func:`posts_from_frame` map the columns of any table
onto the ``accounts`` and ``posts`` schemas of :mod:`igtrends.tables`. Presets apply
them to known public data sets, found by their file names in a folder:

- ``ig-top-influencers``: ``top_insta_influencers_data.csv``, counts as display
  strings such as ``"475.8m"``, the 60-day engagement rate as ``"1.39%"`` and a country.
- ``instafake``: the InstaFake JSON arrays of account features
  (``fakeAccountData.json``, ``realAccountData.json``, ``nonautomatedAccountData.json``).
  The non-automated accounts carry per-post likes, comments and upload times.
- ``ig-hashtag-posts-reach``: ``instagram_reach.csv``, posts with hashtags, the
  poster's follower count and likes. Every line of that file is wrapped in one more
  pair of quotes.
- ``user-posts-response``: recorded responses of the user-posts endpoint, one JSON
  file each, parsed by the same code as crawled responses.

A folder with one subfolder per endpoint is a raw store of a crawl, and
:func:`import_dataset` builds its tables with :func:`igtrends.collect.build_tables`.

Every import validates its tables against the schemas of collected data and reports
each dropped row with the reason in an :class:`ImportReport`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from igtrends.client import RawStore
from igtrends.collect import build_tables, extract_hashtags
from igtrends.counts import parse_count
from igtrends.errors import CountParseError, DatasetError
from igtrends.log import get_logger
from igtrends.tables import (
    OPTIONAL_TABLE_NAMES,
    SCHEMAS,
    TABLE_NAMES,
    empty_table,
    read_tables,
    validate,
    write_tables,
)

__all__ = [
    "PRESETS",
    "DroppedRows",
    "ImportReport",
    "ImportResult",
    "accounts_from_frame",
    "detect_preset",
    "import_dataset",
    "import_hashtag_posts",
    "import_instafake",
    "import_top_influencers",
    "import_user_posts_responses",
    "parse_percent",
    "posts_from_frame",
    "read_reach_csv",
    "read_study_tables",
    "study_name",
    "write_study_tables",
]

log = get_logger("importers")

_MAX_EXAMPLES = 3
_COUNT_COLUMNS = {
    "follower_count", "following_count", "media_count", "avg_likes",
    "new_post_avg_like", "total_likes", "like_count", "comment_count",
}  # fmt: skip
_BOOLEAN_COLUMNS = {"is_verified", "is_private", "has_profile_pic", "is_fake"}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


@dataclass(frozen=True)
class DroppedRows:
    """Rows of an input file left out of the tables, with the reason.

    Attributes:
        source: Input file or table the rows came from.
        rows: Number of rows dropped.
        reason: Why they were dropped.
        examples: Up to three row labels or values that show the problem.
    """

    source: str
    rows: int
    reason: str
    examples: tuple[str, ...] = ()


@dataclass
class ImportReport:
    """Summary of an import: rows read, written and dropped.

    Attributes:
        preset: Preset name, or ``"raw-store"`` for the raw responses of a crawl.
        data_dir: Folder the data came from.
        rows_read: Rows read per input file.
        rows_written: Rows per output table.
        dropped: Rows left out, each group with its reason.
        unmapped_columns: Input columns that no table takes, per input file.
    """

    preset: str
    data_dir: Path
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    dropped: list[DroppedRows] = field(default_factory=list)
    unmapped_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        """Total number of dropped rows."""
        return sum(group.rows for group in self.dropped)

    def dropped_table(self) -> pd.DataFrame:
        """Return the dropped rows as a table with one row per source and reason."""
        return pd.DataFrame(
            [(d.source, d.rows, d.reason, ", ".join(d.examples)) for d in self.dropped],
            columns=["source", "rows", "reason", "examples"],
        )


@dataclass
class ImportResult:
    """Tables of one imported data set with the report of the import.

    Attributes:
        name: Name of the data set, used for its figure folder, e.g. ``ig-top-influencers``.
        tables: The four core tables of :data:`igtrends.tables.TABLE_NAMES`, empty
            when the data set has no such rows, plus ``accounts`` when it has accounts.
        report: Rows read, written and dropped.
    """

    name: str
    tables: dict[str, pd.DataFrame]
    report: ImportReport


# Conversion of single values


def parse_percent(value: Any) -> float | None:
    """Parse a percentage such as ``"1.39%"`` or ``1.39`` into the fraction 0.0139.

    A number without a percent sign is read as a percentage too, so ``1.39`` is
    1.39 %, not 139 %. A missing value, including ``"NaN%"``, returns None.

    Raises:
        ValueError: The value is not a non-negative number with an optional ``%``.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"invalid percentage {value!r}: expected 0 or more")
        return float(value) / 100.0
    text = str(value).strip()
    # Pandas writes a missing rate as "NaN", and the table's "%" is appended to it.
    if not text or text.rstrip("%").strip().lower() == "nan":
        return None
    match = _PERCENT.match(text)
    if match is None:
        raise ValueError(f"invalid percentage {value!r}: expected a number such as '1.39%'")
    return float(match.group(1)) / 100.0


def _parse_flag(value: Any) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    if text == "":
        return None
    raise ValueError(f"invalid flag {value!r}: expected 0, 1, true or false")


def _parse_time(value: Any) -> pd.Timestamp | None:
    """Read unix seconds or a date string. A string without a time zone is taken as UTC."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return pd.Timestamp(int(value), unit="s", tz="UTC")
    stamp = pd.Timestamp(str(value))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _converter(column: str) -> Callable[[Any], Any]:
    if column in _COUNT_COLUMNS:
        return parse_count
    if column in _BOOLEAN_COLUMNS:
        return _parse_flag
    if column == "engagement_rate_60d":
        return parse_percent
    if column == "taken_at":
        return _parse_time
    return _parse_text


def _parse_text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


# Generic column mapping


def _map_columns(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    table: str,
    source: str,
    id_column: str,
) -> tuple[pd.DataFrame, list[DroppedRows]]:
    """Convert mapped columns row by row; drop rows with unreadable values or no id."""
    schema_columns = list(SCHEMAS[table].columns)
    unknown = [name for name in columns if name not in schema_columns]
    if unknown:
        raise DatasetError(
            f"column mapping for {table!r} names {unknown}, which the schema does not have. "
            f"Map onto these columns: {schema_columns}"
        )
    absent = [original for original in columns.values() if original not in frame.columns]
    if absent:
        raise DatasetError(
            f"{source} has no column(s) {absent}. Its columns are {list(frame.columns)}; "
            "fix the column mapping."
        )

    converted: dict[str, list[Any]] = {name: [] for name in columns}
    bad_rows: dict[str, list[str]] = {}
    keep: list[bool] = []
    for label, row in frame.iterrows():
        values: dict[str, Any] = {}
        problem = None
        for target, original in columns.items():
            try:
                values[target] = _converter(target)(row[original])
            except (CountParseError, ValueError) as error:
                problem = f"unreadable {original!r} value"
                bad_rows.setdefault(problem, []).append(f"row {label}: {row[original]!r}")
                log.debug("%s row %s: %s", source, label, error)
                break
        if problem is None and values.get(id_column) is None:
            problem = f"missing {columns[id_column]!r}"
            bad_rows.setdefault(problem, []).append(f"row {label}")
        keep.append(problem is None)
        if problem is None:
            for target in columns:
                converted[target].append(values[target])

    dropped = [
        DroppedRows(source, len(examples), reason, tuple(examples[:_MAX_EXAMPLES]))
        for reason, examples in bad_rows.items()
    ]
    mapped = pd.DataFrame(converted)

    duplicated = mapped[id_column].duplicated(keep="first")
    if duplicated.any():
        ids = mapped.loc[duplicated, id_column].astype(str).tolist()
        dropped.append(
            DroppedRows(source, len(ids), f"duplicate {columns[id_column]!r}, first row kept",
                        tuple(ids[:_MAX_EXAMPLES]))
        )
        mapped = mapped.loc[~duplicated].reset_index(drop=True)
    return mapped, dropped


def _conform(table: str, mapped: pd.DataFrame) -> pd.DataFrame:
    """Add the schema's unmapped columns as missing values and set every dtype."""
    result = empty_table(table).reindex(range(len(mapped)))
    for name, spec in SCHEMAS[table].columns.items():
        values = mapped[name].tolist() if name in mapped.columns else [None] * len(mapped)
        dtype = str(spec.dtype)
        if dtype.startswith("datetime64"):
            result[name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True).astype(
                "datetime64[ns, UTC]"
            )
        elif dtype in ("Int64", "Float64", "boolean"):
            result[name] = pd.array(values, dtype=dtype)
        else:
            result[name] = pd.Series(values, dtype="str")
    return result


def accounts_from_frame(
    frame: pd.DataFrame, columns: Mapping[str, str], *, source: str = "table"
) -> tuple[pd.DataFrame, list[DroppedRows]]:
    """Map a table of accounts onto the ``accounts`` schema.

    Counts go through :func:`igtrends.counts.parse_count`, so display strings such as
    ``"475.8m"`` become exact integers. Flags accept 0, 1, true and false, and
    ``engagement_rate_60d`` takes a percentage (see :func:`parse_percent`).

    Args:
        frame: The input table, one row per account.
        columns: Input column for each ``accounts`` column, e.g.
            ``{"account_id": "channel_info", "follower_count": "followers"}``.
            ``account_id`` is required. Columns not named stay missing.
        source: Name of the input in the dropped-rows report.

    Returns:
        The validated ``accounts`` table and the rows dropped: rows with an unreadable
        value or without an id, and later rows with an id already seen.

    Raises:
        DatasetError: The mapping names a column the schema or the input lacks.
        SchemaError: The mapped table breaks the schema, for example a negative count.
    """
    if "account_id" not in columns:
        raise DatasetError("column mapping for accounts needs 'account_id', the unique account key")
    mapped, dropped = _map_columns(frame, columns, "accounts", source, "account_id")
    return validate("accounts", _conform("accounts", mapped)), dropped


def posts_from_frame(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    hashtags_column: str | None = None,
    source: str = "table",
) -> tuple[pd.DataFrame, pd.DataFrame, list[DroppedRows]]:
    """Map a table of posts onto the ``posts`` and ``hashtags`` schemas.

    Hashtags come from the caption, as for collected posts, and from
    ``hashtags_column`` when given. Both may list tags glued together (``"#a#b"``).
    ``taken_at`` accepts unix seconds or a date string, taken as UTC without a zone.

    Args:
        frame: The input table, one row per post.
        columns: Input column for each ``posts`` column. ``post_id`` and ``owner_id``
            are required.
        hashtags_column: Input column with hashtags, or None.
        source: Name of the input in the dropped-rows report.

    Returns:
        The validated ``posts`` and ``hashtags`` tables and the dropped rows.

    Raises:
        DatasetError: The mapping names a column the schema or the input lacks.
        SchemaError: A mapped table breaks its schema.
    """
    for required in ("post_id", "owner_id"):
        if required not in columns:
            raise DatasetError(f"column mapping for posts needs {required!r}")
    if hashtags_column is not None and hashtags_column not in frame.columns:
        raise DatasetError(f"{source} has no hashtags column {hashtags_column!r}")

    extended = frame.copy()
    mapping = dict(columns)
    if hashtags_column is not None:
        extended["__hashtags"] = frame[hashtags_column]
    mapped, dropped = _map_columns(extended, mapping, "posts", source, "post_id")

    missing_owner = mapped["owner_id"].isna()
    if missing_owner.any():
        ids = mapped.loc[missing_owner, "post_id"].astype(str).tolist()
        dropped.append(DroppedRows(source, len(ids), f"missing {columns['owner_id']!r}",
                                   tuple(ids[:_MAX_EXAMPLES])))
        mapped = mapped.loc[~missing_owner].reset_index(drop=True)
    posts = validate("posts", _conform("posts", mapped))

    tag_text = {}
    if hashtags_column is not None:
        # The same rows survive in the same order, keyed by the converted post id.
        ids = extended[columns["post_id"]].map(_parse_text)
        tag_text = dict(zip(ids, extended["__hashtags"]))
    pairs = []
    for post_id, caption in zip(posts["post_id"], posts["caption"]):
        text = caption if isinstance(caption, str) else ""
        extra = tag_text.get(post_id)
        if isinstance(extra, str):
            text = f"{text} {extra}"
        pairs.extend((post_id, tag) for tag in extract_hashtags(text))
    hashtags = (
        pd.DataFrame(pairs, columns=["post_id", "hashtag"]).astype("str")
        if pairs else empty_table("hashtags")
    )
    return posts, validate("hashtags", hashtags), dropped


# Presets


def _core_tables(**tables: pd.DataFrame) -> dict[str, pd.DataFrame]:
    result = {name: tables.get(name, empty_table(name)) for name in TABLE_NAMES}
    for name in OPTIONAL_TABLE_NAMES:
        if name in tables:
            result[name] = tables[name]
    return result


def _finish(name: str, report: ImportReport, tables: dict[str, pd.DataFrame]) -> ImportResult:
    report.rows_written = {table: len(df) for table, df in tables.items()}
    for group in report.dropped:
        log.warning("%s: dropped %d rows from %s: %s (e.g. %s)", name, group.rows,
                    group.source, group.reason, ", ".join(group.examples))
    log.info("imported %s from %s: %s", name, report.data_dir, report.rows_written)
    return ImportResult(name=name, tables=tables, report=report)


def _require_file(folder: Path, file_name: str) -> Path:
    path = folder / file_name
    if not path.is_file():
        raise DatasetError(f"{file_name} not found in {folder}: pass the folder that contains it")
    return path


TOP_INFLUENCERS_COLUMNS = {
    "account_id": "channel_info",
    "username": "channel_info",
    "follower_count": "followers",
    "media_count": "posts",
    "avg_likes": "avg_likes",
    "new_post_avg_like": "new_post_avg_like",
    "total_likes": "total_likes",
    "engagement_rate_60d": "60d_eng_rate",
    "country": "country",
}
"""Column mapping of the top-influencers table onto ``accounts``."""


def import_top_influencers(data_dir: str | os.PathLike[str]) -> ImportResult:
    """Import ``top_insta_influencers_data.csv``, the display-string version of the table.

    The file starts with a UTF-8 byte order mark, which is removed. ``rank`` and
    ``influence_score`` are not imported because no table has such columns.
    """
    folder = Path(data_dir)
    path = _require_file(folder, "top_insta_influencers_data.csv")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    accounts, dropped = accounts_from_frame(frame, TOP_INFLUENCERS_COLUMNS, source=path.name)
    report = ImportReport(
        "ig-top-influencers", folder, rows_read={path.name: len(frame)}, dropped=dropped,
        unmapped_columns={path.name: sorted(set(frame.columns) - set(TOP_INFLUENCERS_COLUMNS.values()))},
    )  # fmt: skip
    return _finish("ig-top-influencers", report, _core_tables(accounts=accounts))


INSTAFAKE_FILES = ("fakeAccountData.json", "realAccountData.json", "nonautomatedAccountData.json")
INSTAFAKE_COLUMNS = {
    "account_id": "account_id",
    "follower_count": "userFollowerCount",
    "following_count": "userFollowingCount",
    "media_count": "userMediaCount",
    "is_private": "userIsPrivate",
    "has_profile_pic": "userHasProfilPic",
    "is_fake": "isFake",
}
"""Column mapping of the InstaFake account features onto ``accounts``."""

_INSTAFAKE_MEDIA = ("mediaUploadTimes", "mediaLikeNumbers", "mediaCommentNumbers")


def import_instafake(data_dir: str | os.PathLike[str]) -> ImportResult:
    """Import the InstaFake JSON files found in ``data_dir``, at least one of them.

    Records have no usernames or ids, so account ids are the file's kind and the
    1-based record number, such as ``fake-0001`` or ``nonautomated-0700``. Accounts of
    different files are kept apart because nothing links them. The non-automated
    accounts' per-post arrays become posts ``<account id>-<n>`` with upload time, likes
    and comments. Their hashtag counts are not imported because the tags themselves
    are absent.
    """
    folder = Path(data_dir)
    present = [folder / name for name in INSTAFAKE_FILES if (folder / name).is_file()]
    if not present:
        raise DatasetError(f"no InstaFake file ({', '.join(INSTAFAKE_FILES)}) found in {folder}")

    report = ImportReport("instafake", folder)
    account_frames, post_rows = [], []
    for path in present:
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list):
            raise DatasetError(f"{path} must contain a JSON array of account records")
        kind = path.name.removesuffix("AccountData.json")
        frame = pd.DataFrame(records)
        frame["account_id"] = [f"{kind}-{number:04d}" for number in range(1, len(frame) + 1)]
        mapping = {target: original for target, original in INSTAFAKE_COLUMNS.items()
                   if original in frame.columns}
        accounts, dropped = accounts_from_frame(frame, mapping, source=path.name)
        report.rows_read[path.name] = len(frame)
        report.dropped.extend(dropped)
        report.unmapped_columns[path.name] = sorted(
            set(frame.columns) - set(mapping.values()) - set(_INSTAFAKE_MEDIA)
        )
        account_frames.append(accounts)
        if set(_INSTAFAKE_MEDIA) <= set(frame.columns):
            post_rows.extend(_instafake_posts(frame, path.name, report))

    accounts = validate("accounts", pd.concat(account_frames, ignore_index=True))
    tables = _core_tables(accounts=accounts)
    if post_rows:
        post_frame = pd.DataFrame(
            post_rows, columns=["post_id", "owner_id", "taken_at", "like_count", "comment_count"]
        )
        posts, _, dropped = posts_from_frame(
            post_frame, {name: name for name in post_frame.columns}, source="per-post arrays"
        )
        report.dropped.extend(dropped)
        tables["posts"] = posts
    return _finish("instafake", report, tables)


def _instafake_posts(frame: pd.DataFrame, source: str, report: ImportReport) -> list[tuple]:
    rows, uneven = [], []
    for _, record in frame.iterrows():
        arrays = [record[name] if isinstance(record[name], list) else [] for name in _INSTAFAKE_MEDIA]
        if len({len(values) for values in arrays}) != 1:
            uneven.append(record["account_id"])
            continue
        for number, (time, likes, comments) in enumerate(zip(*arrays), start=1):
            rows.append((f"{record['account_id']}-{number}", record["account_id"], time, likes, comments))
    if uneven:
        report.dropped.append(DroppedRows(
            source, len(uneven), "per-post arrays of different lengths; the account's posts are dropped",
            tuple(uneven[:_MAX_EXAMPLES]),
        ))  # fmt: skip
    return rows


REACH_POST_COLUMNS = {
    "post_id": "line",
    "owner_id": "USERNAME",
    "caption": "Caption",
    "like_count": "Likes",
}
"""Column mapping of the hashtag-posts table onto ``posts``."""


def read_reach_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV whose every line is wrapped in one extra pair of double quotes.

    Each physical line is parsed as CSV twice: the outer pass yields one field, and the
    inner pass splits that field into the columns. All values stay strings.

    Raises:
        DatasetError: A line does not have the header's number of fields.
    """
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, outer in enumerate(csv.reader(handle), start=1):
            if not outer:
                continue
            inner = next(csv.reader(io.StringIO(outer[0])))
            rows.append(inner)
            if len(inner) != len(rows[0]):
                raise DatasetError(
                    f"{path} line {number} has {len(inner)} fields, the header has "
                    f"{len(rows[0])}: the file does not have the wrapped-line format"
                )
    header = [name or "index" for name in rows[0]]
    return pd.DataFrame(rows[1:], columns=header, dtype="str")


def import_hashtag_posts(data_dir: str | os.PathLike[str]) -> ImportResult:
    """Import ``instagram_reach.csv``: posts, their hashtags and each poster's followers.

    ``Followers`` is the poster's follower count and becomes an account per
    ``USERNAME``. A poster listed with several counts keeps the largest.
    ``Time since posted`` (such as ``"11 hours"``) is not imported because the file
    does not give the time it is counted from, so posts have no ``taken_at``. The file
    joins several tables whose row numbers (the first column and ``S.No``) restart, so
    a post's id is its 1-based data line number, such as ``reach-001``.
    """
    folder = Path(data_dir)
    path = _require_file(folder, "instagram_reach.csv")
    frame = read_reach_csv(path)
    frame["line"] = [f"reach-{number:03d}" for number in range(1, len(frame) + 1)]
    posts, hashtags, dropped = posts_from_frame(
        frame, REACH_POST_COLUMNS, hashtags_column="Hashtags", source=path.name
    )

    owners = frame.loc[frame["USERNAME"].map(_parse_text).isin(posts["owner_id"]), ["USERNAME", "Followers"]]
    owners = owners.assign(order=pd.to_numeric(owners["Followers"], errors="coerce"))
    owners = owners.sort_values("order", ascending=False, kind="stable").drop(columns="order")
    accounts, owner_dropped = accounts_from_frame(
        owners, {"account_id": "USERNAME", "username": "USERNAME", "follower_count": "Followers"},
        source=f"{path.name} (posters)",
    )
    # Several posts by one poster are not a loss of data, so only other reasons count.
    owner_dropped = [group for group in owner_dropped if not group.reason.startswith("duplicate")]

    used = set(REACH_POST_COLUMNS.values()) | {"Hashtags", "Followers"}
    report = ImportReport(
        "ig-hashtag-posts-reach", folder, rows_read={path.name: len(frame)},
        dropped=[*dropped, *owner_dropped],
        unmapped_columns={path.name: sorted(set(frame.columns) - used)},
    )  # fmt: skip
    tables = _core_tables(posts=posts, hashtags=hashtags, accounts=accounts)
    return _finish("ig-hashtag-posts-reach", report, tables)


def _response_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("posts"), list):
            files.append(path)
    return files


def import_user_posts_responses(data_dir: str | os.PathLike[str]) -> ImportResult:
    """Import recorded user-posts responses (``{"posts": [{"node": {...}}]}``), one per file.

    Each response is stored in a temporary raw store as the response to a request for
    its account, so :func:`igtrends.collect.build_tables` parses it exactly like a
    crawled response. The responses carry no likers or comments, so ``engagements``
    stays empty.
    """
    folder = Path(data_dir)
    files = _response_files(folder)
    if not files:
        raise DatasetError(f"no JSON file with a 'posts' list found in {folder}")

    report = ImportReport("user-posts-response", folder)
    with tempfile.TemporaryDirectory(prefix="igtrends-import-") as temporary:
        store = RawStore(temporary, fsync=False)
        for path in files:
            response = json.loads(path.read_text(encoding="utf-8"))
            report.rows_read[path.name] = len(response["posts"])
            store.put("user_posts", {"username_or_url": _response_username(response, path)}, response)
        tables = build_tables(store)
    return _finish("user-posts-response", report, _core_tables(**tables))


def _response_username(response: dict[str, Any], path: Path) -> str:
    for post in response["posts"]:
        node = post.get("node", post) if isinstance(post, dict) else {}
        user = node.get("user") or node.get("owner") or {}
        if user.get("username"):
            return str(user["username"])
    return path.stem


PRESETS: dict[str, Callable[[str | os.PathLike[str]], ImportResult]] = {
    "ig-top-influencers": import_top_influencers,
    "instafake": import_instafake,
    "ig-hashtag-posts-reach": import_hashtag_posts,
    "user-posts-response": import_user_posts_responses,
}
"""Importer of each known data set, by preset name."""


def detect_preset(data_dir: str | os.PathLike[str]) -> str | None:
    """Return the preset whose files ``data_dir`` contains, or None for a raw store.

    Raises:
        DatasetError: The folder does not exist.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DatasetError(f"data folder {folder} not found: pass an existing folder with --data-dir")
    if (folder / "top_insta_influencers_data.csv").is_file():
        return "ig-top-influencers"
    if any((folder / name).is_file() for name in INSTAFAKE_FILES):
        return "instafake"
    if (folder / "instagram_reach.csv").is_file():
        return "ig-hashtag-posts-reach"
    if _response_files(folder):
        return "user-posts-response"
    return None


def study_name(dataset: str, data_dir: str | os.PathLike[str] | None) -> str:
    """Return the name of a study's figure folder: the preset for imported data, else ``dataset``."""
    if dataset != "instagram" or data_dir is None:
        return dataset
    return detect_preset(data_dir) or dataset


def import_dataset(data_dir: str | os.PathLike[str], preset: str | None = None) -> ImportResult:
    """Import a folder with a preset, detected from its files when ``preset`` is None.

    A folder that matches no preset is read as the raw store of a crawl.

    Raises:
        DatasetError: The preset is unknown, or the folder contains neither a known data
            set nor raw records.
    """
    folder = Path(data_dir)
    if preset is None:
        preset = detect_preset(folder)
    if preset is not None:
        if preset not in PRESETS:
            raise DatasetError(f"unknown import preset {preset!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[preset](folder)

    store = RawStore(folder)
    if store.count() == 0:
        raise DatasetError(
            f"{folder} contains no known data set ({', '.join(PRESETS)}) and no raw "
            "records in endpoint subfolders: pass a data set folder or the raw store of a crawl"
        )
    report = ImportReport("raw-store", folder, rows_read={"raw records": store.count()})
    return _finish("instagram", report, _core_tables(**build_tables(store)))


def write_study_tables(tables: Mapping[str, pd.DataFrame], folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write tables with :func:`igtrends.tables.write_tables` and delete stale optional tables.

    An optional table file left from an earlier data set in the same folder would be
    read back with the new one, so optional tables absent from ``tables`` are deleted.
    """
    # NOTE: every imported Instagram data set uses data/processed/instagram, so two
    # runs with --dataset instagram at the same time overwrite each other's tables.
    paths = write_tables(tables, folder)
    for name in OPTIONAL_TABLE_NAMES:
        if name not in tables:
            (Path(folder) / f"{name}.parquet").unlink(missing_ok=True)
    return paths


def read_study_tables(folder: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read the core tables of a folder and every optional table it contains."""
    folder = Path(folder)
    optional = tuple(name for name in OPTIONAL_TABLE_NAMES if (folder / f"{name}.parquet").exists())
    return read_tables(folder, names=TABLE_NAMES + optional)
