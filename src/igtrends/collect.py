"""Crawl the data API and parse the raw responses into tidy tables.

:func:`crawl` is the crawl plan, the same for live data and for the embedded sample:

1. search the seed queries, and fetch every page of posts of each seed hashtag;
2. for every seeded or found account, fetch its profile and every page of its posts,
   and optionally its followers, followings and similar accounts;
3. for every post, fetch its likers and every page of its comments;
4. fetch the profile of every user met in steps 2 and 3.

Every response lands in the client's raw store, so a crawl that is stopped, killed or
limited by ``max_calls`` resumes where it stopped when run again.

:func:`build_tables` reads every raw record and returns the ``users``, ``posts``,
``hashtags`` and ``engagements`` tables described in :mod:`igtrends.tables`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pandas as pd
from tqdm.auto import tqdm

from igtrends.client import Client, RawStore, extract_items, find_path
from igtrends.counts import parse_count
from igtrends.endpoints import get_endpoint
from igtrends.errors import (
    APIError,
    CallLimitError,
    ConfigurationError,
    CountParseError,
    DatasetError,
)
from igtrends.log import get_logger
from igtrends.tables import TABLE_NAMES, empty_table, validate

__all__ = [
    "CrawlSeeds",
    "CrawlSummary",
    "build_tables",
    "crawl",
    "crawl_sample",
    "extract_hashtags",
]

log = get_logger("collect")

MEDIA_TYPE_NAMES = {1: "photo", 2: "video", 8: "carousel"}
NEIGHBOUR_ENDPOINTS = ("followers", "followings", "similar_accounts")
_HASHTAG = re.compile(r"#(\w+)")
# The follower count inside a search result's social context, e.g. "27M followers"
# or "bbcnews • 1.2M followers".
_FOLLOWERS = re.compile(r"(\d[\d.,\u00a0\u202f ]*\s?(?:[KkMmBb]\b)?)\s*followers?\b", re.IGNORECASE)

# When several responses describe the same user, the most complete source wins, and
# within one source the latest fetch wins. Missing values never overwrite known ones.
_USER_SOURCE_RANK = {"summary": 0, "search": 1, "profile": 2}
_USER_COLUMNS = (
    "user_id", "username", "full_name", "is_verified", "is_private",
    "follower_count", "following_count", "media_count", "biography",
)  # fmt: skip
_POST_COLUMNS = (
    "post_id", "shortcode", "owner_id", "taken_at", "media_type",
    "like_count", "comment_count", "caption",
)  # fmt: skip

T = TypeVar("T")


class Seeds(Protocol):
    """Anything with search queries and usernames to crawl, such as ``SampleInfo``.

    A ``hashtags`` attribute is optional.
    """

    @property
    def queries(self) -> tuple[str, ...]: ...

    @property
    def usernames(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class CrawlSeeds:
    """Starting points of a crawl.

    Attributes:
        queries: Search queries; every account they return is crawled.
        usernames: Accounts crawled in any case.
        hashtags: Hashtags without ``#``; the owner of every post they return is
            crawled.
    """

    queries: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()


@dataclass
class CrawlSummary:
    """Counts and failures of one crawl.

    Attributes:
        calls: Requests sent through the transport, retries not included.
        retries: Requests sent again after a 429, a 5xx status or a timeout, when
            the transport counts them (:class:`~igtrends.client.HTTPTransport` does).
        cache_hits: Requests served from the raw store.
        items: Distinct items seen, by kind: accounts, posts, likes, comments and
            related accounts (followers, followings and similar accounts).
        errors: Message of each failed request. The crawl goes on after each.
        empty_results: Responses with an empty item list, by endpoint.
        stopped_early: Why the crawl stopped before its end, or ``None``.
        seconds: Wall time of the crawl.
    """

    calls: int = 0
    retries: int = 0
    cache_hits: int = 0
    items: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    empty_results: dict[str, int] = field(default_factory=dict)
    stopped_early: str | None = None
    seconds: float = 0.0

    def format(self) -> str:
        """Return the summary as a few lines of text for a terminal or a notebook."""
        lines = [
            f"calls: {self.calls} (retries: {self.retries}), cache hits: {self.cache_hits}, "
            f"time: {self.seconds:.1f} s",
            "items: " + ", ".join(f"{name} {count}" for name, count in self.items.items()),
            "empty results: "
            + (", ".join(f"{name} {count}" for name, count in self.empty_results.items()) or "none"),
            f"errors: {len(self.errors)}",
        ]
        lines.extend(f"  {message}" for message in self.errors[:20])
        if len(self.errors) > 20:
            lines.append(f"  ... and {len(self.errors) - 20} more")
        if self.stopped_early:
            lines.append(f"stopped early: {self.stopped_early}")
        return "\n".join(lines)


def crawl(
    client: Client,
    seeds: Seeds,
    *,
    max_pages: int = 50,
    max_calls: int | None = None,
    neighbours: Iterable[str] = (),
    progress: bool = True,
) -> CrawlSummary:
    """Crawl accounts, their posts and the engagement on those posts.

    A failed request is logged and recorded in the summary, and the crawl goes on, so
    that one bad response loses nothing already stored. Reaching ``max_calls`` stops
    the crawl; calling again with a larger limit resumes it from the raw store.
    Temporary files that a killed crawl left in the raw store are deleted first.

    Args:
        client: The client; its raw store receives every response.
        seeds: Seed queries, usernames and optionally hashtags, for example a
            :class:`~igtrends.sample.SampleInfo` or a :class:`CrawlSeeds`.
        max_pages: Maximum pages fetched per paginated request (posts of an account
            or a hashtag, comments of a post, followers, followings).
        max_calls: Maximum requests sent through the transport in this crawl, or
            ``None`` for no limit. Responses served from the raw store do not count.
        neighbours: Which related accounts of each crawled account to fetch, out of
            :data:`NEIGHBOUR_ENDPOINTS`; their profiles are fetched in step 4.
        progress: Whether to show a tqdm progress bar.

    Returns:
        Counts of calls, retries, cache hits, items, errors and empty results.

    Raises:
        ConfigurationError: If ``neighbours`` names an endpoint not in
            :data:`NEIGHBOUR_ENDPOINTS`.
    """
    neighbours = tuple(neighbours)
    unknown = sorted(set(neighbours) - set(NEIGHBOUR_ENDPOINTS))
    if unknown:
        raise ConfigurationError(
            f"unknown neighbours {unknown}; choose from {list(NEIGHBOUR_ENDPOINTS)}"
        )

    started = time.perf_counter()
    client.raw_store.remove_stale_temporary_files()
    calls_before, hits_before = client.calls, client.cache_hits
    retries_before = getattr(client.transport, "retries_done", 0)
    empty_before = dict(client.empty_by_endpoint)
    limit_before = client.max_calls
    if max_calls is not None:
        client.max_calls = client.calls + max_calls

    state = _Crawl(client, max_pages, neighbours, progress)
    summary = CrawlSummary()
    try:
        state.run(seeds)
    except CallLimitError as error:
        summary.stopped_early = str(error)
        log.warning("crawl stopped early: %s", error)
    finally:
        state.bar.close()
        client.max_calls = limit_before

    summary.calls = client.calls - calls_before
    summary.retries = getattr(client.transport, "retries_done", 0) - retries_before
    summary.cache_hits = client.cache_hits - hits_before
    summary.errors = state.errors
    summary.items = {
        "accounts": len(state.profiles_done),
        "posts": len(state.post_ids),
        "likes": state.likes,
        "comments": state.comments,
        "related_accounts": state.neighbours,
    }
    summary.empty_results = {
        name: count - empty_before.get(name, 0)
        for name, count in client.empty_by_endpoint.items()
        if count > empty_before.get(name, 0)
    }
    summary.seconds = time.perf_counter() - started
    log.info(
        "crawl finished in %.1f s: %d calls, %d retries, %d cache hits, %d errors, items %s",
        summary.seconds, summary.calls, summary.retries, summary.cache_hits,
        len(summary.errors), summary.items,
    )  # fmt: skip
    return summary


def crawl_sample(
    client: Client,
    info: Seeds,
    *,
    max_pages: int = 50,
    max_calls: int | None = None,
    progress: bool = True,
) -> CrawlSummary:
    """Run :func:`crawl` without neighbours; the name the collect notebook calls."""
    return crawl(client, info, max_pages=max_pages, max_calls=max_calls, progress=progress)


class _Crawl:
    """State of one crawl: what is done, what failed, and the progress bar."""

    def __init__(
        self, client: Client, max_pages: int, neighbours: tuple[str, ...], progress: bool
    ) -> None:
        self.client = client
        self.max_pages = max_pages
        self.neighbour_endpoints = neighbours
        self.errors: list[str] = []
        self.profiles_done: set[str] = set()
        self.post_ids: dict[str, None] = {}
        self.engagers: dict[str, None] = {}
        self.likes = 0
        self.comments = 0
        self.neighbours = 0
        self.bar = tqdm(total=0, unit="request", desc="crawl", disable=not progress)

    def run(self, seeds: Seeds) -> None:
        accounts = dict.fromkeys(seeds.usernames)
        hashtags = tuple(getattr(seeds, "hashtags", ()))
        self._grow(len(seeds.queries) + len(hashtags))
        for query in seeds.queries:
            for item in self._attempt(f"search {query!r}", lambda: self._search(query)) or []:
                accounts[item] = None
        for hashtag in hashtags:
            owners = self._attempt(f"posts of #{hashtag}", lambda: self._hashtag_posts(hashtag))
            accounts.update(dict.fromkeys(owners or []))

        self._grow((2 + len(self.neighbour_endpoints)) * len(accounts))
        for username in accounts:
            self._profile(username)
            self._attempt(f"posts of {username!r}", lambda: self._posts(username))
            self.bar.update()
            for endpoint_name in self.neighbour_endpoints:
                self._attempt(
                    f"{endpoint_name} of {username!r}",
                    lambda: self._neighbours(endpoint_name, username),
                )
                self.bar.update()

        self._grow(2 * len(self.post_ids))
        for post_id in self.post_ids:
            self._attempt(f"likers of post {post_id}", lambda: self._likers(post_id))
            self.bar.update()
            self._attempt(f"comments of post {post_id}", lambda: self._comments(post_id))
            self.bar.update()

        remaining = [username for username in self.engagers if username not in self.profiles_done]
        self._grow(len(remaining))
        for username in remaining:
            self._profile(username)

    def _grow(self, n: int) -> None:
        self.bar.total = (self.bar.total or 0) + n
        self.bar.refresh()

    def _attempt(self, what: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except (APIError, DatasetError) as error:
            message = f"{what}: {error}"
            self.errors.append(message)
            log.error("request failed, crawl goes on: %s", message)
            return None

    def _search(self, query: str) -> list[str]:
        self.bar.update()
        data = self.client.get("search_users", search_query=query)
        items = extract_items(get_endpoint("search_users"), data, {"search_query": query})
        return [
            str(item["user"]["username"])
            for item in items
            if isinstance(item.get("user"), dict) and item["user"].get("username")
        ]

    def _hashtag_posts(self, hashtag: str) -> list[str]:
        self.bar.update()
        owners: dict[str, None] = {}
        for item in self.client.paginate("hashtag_posts", self.max_pages, hashtag=hashtag):
            node = self._add_post(item, f"#{hashtag}")
            owner = (node or {}).get("user") or (node or {}).get("owner")
            if isinstance(owner, dict) and owner.get("username"):
                owners[str(owner["username"])] = None
        return list(owners)

    def _profile(self, username: str) -> None:
        if username in self.profiles_done:
            return
        self.profiles_done.add(username)
        self._attempt(
            f"profile of {username!r}",
            lambda: self.client.get("user_info", username_or_url=username),
        )
        self.bar.update()

    def _posts(self, username: str) -> None:
        for item in self.client.paginate("user_posts", self.max_pages, username_or_url=username):
            self._add_post(item, repr(username))

    def _add_post(self, item: Any, source: str) -> dict[str, Any] | None:
        node = item.get("node", item) if isinstance(item, dict) else None
        post_id = _post_id(node) if isinstance(node, dict) else None
        if post_id is None:
            log.warning("post without an id in the posts of %s: %.200r", source, item)
            return None
        self.post_ids[post_id] = None
        return node

    def _neighbours(self, endpoint_name: str, username: str) -> None:
        for user in self.client.paginate(endpoint_name, self.max_pages, username_or_url=username):
            self.neighbours += 1
            self._add_engager(user)

    def _likers(self, post_id: str) -> None:
        data = self.client.get("post_likers", post_id=post_id)
        for user in extract_items(get_endpoint("post_likers"), data, {"post_id": post_id}):
            self.likes += 1
            self._add_engager(user)

    def _comments(self, post_id: str) -> None:
        for comment in self.client.paginate("post_comments", self.max_pages, post_id=post_id):
            self.comments += 1
            self._add_engager(comment.get("user") if isinstance(comment, dict) else None)

    def _add_engager(self, user: Any) -> None:
        if isinstance(user, dict) and user.get("username"):
            self.engagers[str(user["username"])] = None


def extract_hashtags(caption: str | None) -> list[str]:
    """Return the distinct hashtags of a caption, lowercase and without ``#``, in order."""
    if not caption:
        return []
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(caption)))


def build_tables(raw_store: RawStore) -> dict[str, pd.DataFrame]:
    """Parse every raw record into the tidy, validated tables.

    Rows are deduplicated by id. For posts, the latest fetch wins. For users, values
    from profiles beat those from search results, which beat the short user objects
    of posts, likers and comments. Within one source the latest fetch wins, and a
    missing value never overwrites a known one. Counts go through
    :func:`igtrends.counts.parse_count`, so a missing count stays ``<NA>``.

    Returns:
        The ``users``, ``posts``, ``hashtags`` and ``engagements`` tables.

    Raises:
        DatasetError: If a record cannot be parsed; the message names its request.
        SchemaError: If a built table does not match its schema.
    """
    rows = _RowCollector()
    records = 0
    for record in raw_store.iter_records():
        records += 1
        try:
            rows.add_record(record)
        except (KeyError, TypeError, ValueError, CountParseError, APIError) as error:
            raise DatasetError(
                f"cannot parse the raw record of {record.get('request')!r} in "
                f"{raw_store.folder}: {type(error).__name__}: {error}. Fix or delete the "
                "file and fetch the request again."
            ) from error

    tables = {
        "users": _users_table(rows.users),
        "posts": _posts_table(rows.posts),
        "engagements": _engagements_table(rows.engagements),
    }
    tables["hashtags"] = _hashtags_table(tables["posts"])
    log.info(
        "built tables from %d raw records: %s",
        records, {name: len(df) for name, df in tables.items()},
    )  # fmt: skip
    return {name: validate(name, tables[name]) for name in TABLE_NAMES}


class _RowCollector:
    """Rows from raw records, each tagged with the order of its fetch."""

    def __init__(self) -> None:
        self.users: list[tuple[Any, ...]] = []
        self.posts: list[tuple[Any, ...]] = []
        self.engagements: list[tuple[Any, ...]] = []
        self.sequence = 0

    def add_record(self, record: dict[str, Any]) -> None:
        request = record["request"]
        endpoint = get_endpoint(request["endpoint"])
        params = request.get("params", {})
        items = extract_items(endpoint, record["response"], params, record.get("status"))
        fetched_at = str(record.get("fetched_at", ""))
        self.sequence += 1
        order = (fetched_at, self.sequence)

        if endpoint.name == "search_users":
            for item in items:
                self._add_user(item["user"], "search", order)
        elif endpoint.name == "user_info":
            self._add_user(items[0], "profile", order)
        elif endpoint.name in ("user_posts", "hashtag_posts"):
            for item in items:
                self._add_post(item.get("node", item), order)
        elif endpoint.name == "post_details":
            self._add_post(items[0], order)
        elif endpoint.name in NEIGHBOUR_ENDPOINTS:
            for user in items:
                self._add_user(user, "summary", order)
        elif endpoint.name == "post_likers":
            for user in items:
                user_id = self._add_user(user, "summary", order)
                self.engagements.append((user_id, str(params["post_id"]), "like", None))
        elif endpoint.name == "post_comments":
            for comment in items:
                user_id = self._add_user(comment["user"], "summary", order)
                created_at = comment.get("created_at")
                self.engagements.append((user_id, str(params["post_id"]), "comment", created_at))
        else:
            log.debug("no table takes records of %s; skipped", endpoint.name)

    def _add_user(self, user: dict[str, Any], source: str, order: tuple[str, int]) -> str:
        user_id = user.get("pk") or user.get("id")
        if user_id is None:
            raise KeyError(f"user object without 'pk' or 'id': {str(user)[:200]}")
        follower_count = parse_count(user.get("follower_count"))
        if follower_count is None and source == "search":
            follower_count = _search_followers(user.get("search_social_context"))
        self.users.append(
            (
                _USER_SOURCE_RANK[source], *order,
                str(user_id), user.get("username"), user.get("full_name") or None,
                user.get("is_verified"), user.get("is_private"), follower_count,
                parse_count(user.get("following_count")), parse_count(user.get("media_count")),
                user.get("biography") or None,
            )
        )  # fmt: skip
        return str(user_id)

    def _add_post(self, node: dict[str, Any], order: tuple[str, int]) -> None:
        post_id = _post_id(node)
        if post_id is None:
            raise KeyError(f"post without 'pk' or 'id': {str(node)[:200]}")
        owner = node.get("user") or node.get("owner") or {}
        owner_id = owner.get("pk") or owner.get("id")
        if owner:
            self._add_user(owner, "summary", order)
        media_type = node.get("media_type")
        if media_type not in MEDIA_TYPE_NAMES:
            raise ValueError(
                f"post {post_id} has media_type {media_type!r}; known types are "
                f"{MEDIA_TYPE_NAMES} (add new ones to igtrends.collect.MEDIA_TYPE_NAMES)"
            )
        caption = node.get("caption") or {}
        self.posts.append(
            (
                *order, post_id, node.get("code"), None if owner_id is None else str(owner_id),
                node.get("taken_at"), MEDIA_TYPE_NAMES[media_type],
                parse_count(node.get("like_count")), parse_count(node.get("comment_count")),
                caption.get("text"),
            )
        )  # fmt: skip


def _post_id(node: dict[str, Any]) -> str | None:
    if node.get("pk") is not None:
        return str(node["pk"])
    if node.get("id") is not None:
        return str(node["id"]).split("_")[0]  # media ids read "<post pk>_<owner pk>"
    return None


def _search_followers(context: Any) -> int | None:
    if not isinstance(context, str):
        return None
    match = _FOLLOWERS.search(context)
    return parse_count(match.group(1)) if match else None


def _coalesce_latest(df: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """Sort by ``order`` and keep, per ``key``, the last non-null value of each column."""
    ordered = df.sort_values(order, kind="stable")
    return ordered.groupby(key, sort=True).last().reset_index()


def _users_table(rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=["rank", "fetched_at", "sequence", *_USER_COLUMNS])
    if frame.empty:
        return empty_table("users")
    for column in ("follower_count", "following_count", "media_count"):
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    for column in ("is_verified", "is_private"):
        frame[column] = pd.array(frame[column].tolist(), dtype="boolean")
    merged = _coalesce_latest(frame, "user_id", ["rank", "fetched_at", "sequence"])
    users = merged[list(_USER_COLUMNS)].copy()
    for column in ("user_id", "username", "full_name", "biography"):
        users[column] = users[column].astype("str")
    if users["is_verified"].isna().any():
        unknown = users.loc[users["is_verified"].isna(), "user_id"].head(5).tolist()
        log.warning("no response gives is_verified for users %s; the schema rejects them", unknown)
    else:
        users["is_verified"] = users["is_verified"].astype(bool)
    return users


def _posts_table(rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=["fetched_at", "sequence", *_POST_COLUMNS])
    if frame.empty:
        return empty_table("posts")
    frame = frame.sort_values(["fetched_at", "sequence"], kind="stable")
    posts = frame.drop_duplicates("post_id", keep="last")[list(_POST_COLUMNS)]
    posts = posts.sort_values("post_id", kind="stable").reset_index(drop=True)
    posts["taken_at"] = pd.to_datetime(posts["taken_at"], unit="s", utc=True).astype("datetime64[ns, UTC]")
    for column in ("like_count", "comment_count"):
        posts[column] = pd.array(posts[column].tolist(), dtype="Int64")
    for column in ("post_id", "shortcode", "owner_id", "media_type", "caption"):
        posts[column] = posts[column].astype("str")
    return posts


def _engagements_table(rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=["user_id", "post_id", "kind", "time"])
    if frame.empty:
        return empty_table("engagements")
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True).astype("datetime64[ns, UTC]")
    # A user who commented several times on a post counts once, at the first comment.
    frame = frame.sort_values(["user_id", "post_id", "kind", "time"], kind="stable", na_position="last")
    engagements = frame.drop_duplicates(["user_id", "post_id", "kind"], keep="first").reset_index(drop=True)
    for column in ("user_id", "post_id", "kind"):
        engagements[column] = engagements[column].astype("str")
    return engagements


def _hashtags_table(posts: pd.DataFrame) -> pd.DataFrame:
    pairs = [
        (post_id, tag)
        for post_id, caption in zip(posts["post_id"], posts["caption"])
        for tag in extract_hashtags(caption if isinstance(caption, str) else None)
    ]
    if not pairs:
        return empty_table("hashtags")
    return pd.DataFrame(pairs, columns=["post_id", "hashtag"]).astype("str")
