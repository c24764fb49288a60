"""Trend analysis of the tidy tables: audience, engagement, hashtags and activity over time.

Each function takes tables from :mod:`igtrends.tables` (collected or imported) and
returns a small table for a figure in :mod:`igtrends.plots`. When a data set lacks the
columns or rows an analysis needs, the function raises
:class:`~igtrends.errors.InsufficientDataError` with the reason, so the explore
notebook can skip that figure and say why.

Engagement rate is likes per post divided by the account's follower count, a fraction
(0.0139 is 1.39 %).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from igtrends.errors import InsufficientDataError
from igtrends.log import get_logger

__all__ = [
    "account_table",
    "correlation_columns",
    "engagement_by_tier",
    "engagement_rate",
    "follower_tiers",
    "hashtag_cooccurrence",
    "hashtag_stats",
    "post_table",
    "require_column",
    "require_table",
    "training_skip_reason",
    "weekly_activity",
]

log = get_logger("trends")


def require_table(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """Return ``tables[name]``.

    Raises:
        InsufficientDataError: The table is absent or has no rows.
    """
    if name not in tables or tables[name].empty:
        raise InsufficientDataError(f"the data set has no {name} table or it is empty")
    return tables[name]


def require_column(frame: pd.DataFrame, column: str, meaning: str) -> pd.DataFrame:
    """Return ``frame`` when ``column`` has at least one known value.

    Args:
        frame: The table to check.
        column: Column name.
        meaning: What the column holds, for the message, such as "verified flags".

    Raises:
        InsufficientDataError: The column is absent or every value is missing.
    """
    if column not in frame.columns or frame[column].isna().all():
        raise InsufficientDataError(f"the data set has no {meaning} (column {column!r})")
    return frame


def engagement_rate(likes: pd.Series, followers: pd.Series) -> pd.Series:
    """Divide likes by followers, element by element, as a ``Float64`` Series.

    The rate is missing (``<NA>``) where either value is missing or the follower count
    is 0, because a rate per zero followers is undefined.
    """
    likes = pd.to_numeric(likes).astype("Float64")
    followers = pd.to_numeric(followers).astype("Float64")
    followers = followers.mask(followers == 0)
    return (likes / followers).astype("Float64")


def account_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return one row per account with an ``engagement_rate`` column.

    The accounts come from the ``accounts`` table when there is one, else from
    ``users`` (with ``user_id`` as ``account_id``). The rate is
    ``new_post_avg_like / follower_count`` where the table gives average likes of new
    posts. Otherwise it is the mean of ``like_count / follower_count`` over the
    account's posts, and missing for accounts without posts.

    Raises:
        InsufficientDataError: No table of accounts with follower counts.
    """
    if "accounts" in tables and len(tables["accounts"]):
        accounts = tables["accounts"].copy()
    elif "users" in tables and "follower_count" in tables["users"].columns and len(tables["users"]):
        accounts = tables["users"].rename(columns={"user_id": "account_id"})
    else:
        raise InsufficientDataError("the data set has no accounts with follower counts")
    if accounts["follower_count"].notna().sum() == 0:
        raise InsufficientDataError("every account's follower count is missing")

    if "new_post_avg_like" in accounts.columns and accounts["new_post_avg_like"].notna().any():
        accounts["engagement_rate"] = engagement_rate(
            accounts["new_post_avg_like"], accounts["follower_count"]
        )
        return accounts

    rates = pd.Series(dtype="Float64")
    if "posts" in tables and len(tables["posts"]):
        posts = _posts_with_owner_followers(tables["posts"], accounts)
        rates = posts.groupby("owner_id")["engagement_rate"].mean()
    accounts["engagement_rate"] = accounts["account_id"].map(rates).astype("Float64")
    return accounts


def _posts_with_owner_followers(posts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    followers = accounts.set_index("account_id")["follower_count"]
    result = posts.copy()
    result["owner_follower_count"] = result["owner_id"].map(followers).astype("Int64")
    result["engagement_rate"] = engagement_rate(result["like_count"], result["owner_follower_count"])
    return result


def post_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the posts with their owner's follower count and the post's engagement rate.

    Raises:
        InsufficientDataError: The data set has no posts.
    """
    if "posts" not in tables or tables["posts"].empty:
        raise InsufficientDataError("the data set has no posts")
    try:
        accounts = account_table(tables)
    except InsufficientDataError:
        accounts = pd.DataFrame({"account_id": pd.Series(dtype="str"),
                                 "follower_count": pd.Series(dtype="Int64")})
    return _posts_with_owner_followers(tables["posts"], accounts)


def follower_tiers(followers: pd.Series, n_tiers: int = 4) -> pd.Series:
    """Cut follower counts into ``n_tiers`` tiers of equal size (quantiles).

    Quantile tiers suit any range of audiences, from accounts with a few hundred
    followers to the largest celebrities, where fixed tiers such as "micro" or "mega"
    would put a whole data set in one tier. Each label states its range, such as
    ``"33M–45M"``. Tied counts on a boundary merge tiers, so fewer can come out.

    Returns:
        An ordered categorical Series with the index of ``followers``; missing counts
        stay missing.

    Raises:
        ValueError: ``n_tiers`` is below 2.
        InsufficientDataError: All known counts are equal.
    """
    if n_tiers < 2:
        raise ValueError(f"n_tiers must be at least 2, got {n_tiers}")
    values = pd.to_numeric(followers).astype("float64")
    edges = np.unique(np.quantile(values.dropna(), np.linspace(0.0, 1.0, n_tiers + 1)))
    if len(edges) < 2:
        raise InsufficientDataError("follower tiers need at least two different follower counts")
    labels = [f"{_short(low)}–{_short(high)}" for low, high in zip(edges[:-1], edges[1:])]
    tiers = pd.cut(values, bins=edges, labels=labels, include_lowest=True, ordered=True)
    return pd.Series(tiers, index=followers.index, name="tier")


def _short(value: float) -> str:
    """Format a count as ``950``, ``3.3k``, ``45M`` or ``1.2B``."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            number = value / size
            return f"{number:.0f}{suffix}" if number >= 10 else f"{number:.1f}{suffix}"
    return f"{value:.0f}"


def engagement_by_tier(accounts: pd.DataFrame, n_tiers: int = 4) -> pd.DataFrame:
    """Return each account's follower count, engagement rate and follower tier.

    Accounts without a rate or follower count are left out.

    Raises:
        InsufficientDataError: Fewer than two accounts per tier have both values.
    """
    if "engagement_rate" not in accounts.columns:
        raise InsufficientDataError("accounts have no engagement rate; build them with account_table")
    frame = accounts[["account_id", "follower_count", "engagement_rate"]].dropna()
    if len(frame) < 2 * n_tiers:
        raise InsufficientDataError(
            f"only {len(frame)} accounts have both a follower count and an engagement rate "
            f"(likes per post), fewer than the {2 * n_tiers} needed for {n_tiers} tiers"
        )
    frame = frame.astype({"follower_count": "float64", "engagement_rate": "float64"})
    frame["tier"] = follower_tiers(frame["follower_count"], n_tiers)
    return frame.reset_index(drop=True)


def hashtag_stats(hashtags: pd.DataFrame, posts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Count the posts of each hashtag and their mean likes.

    A post that lists a tag twice counts once. ``mean_likes`` averages the posts'
    ``like_count`` where it is known and is missing without ``posts``.

    Returns:
        Columns ``hashtag``, ``posts`` and ``mean_likes``, most used hashtag first and
        ties by name.

    Raises:
        InsufficientDataError: The table has no hashtags.
    """
    pairs = hashtags[["post_id", "hashtag"]].dropna().drop_duplicates()
    if pairs.empty:
        raise InsufficientDataError("the data set has no hashtags")
    counts = pairs.groupby("hashtag").size().rename("posts")
    if posts is not None and "like_count" in posts.columns:
        likes = pairs.merge(posts[["post_id", "like_count"]], on="post_id", how="left")
        mean_likes = likes.groupby("hashtag")["like_count"].mean().astype("Float64")
    else:
        mean_likes = pd.Series(pd.NA, index=counts.index, dtype="Float64")
    stats = pd.DataFrame({"posts": counts, "mean_likes": mean_likes}).rename_axis("hashtag")
    stats = stats.reset_index().sort_values(["posts", "hashtag"], ascending=[False, True])
    return stats.reset_index(drop=True)


def hashtag_cooccurrence(hashtags: pd.DataFrame, top_n: int = 12) -> pd.DataFrame:
    """Count the posts that use each pair of the ``top_n`` most used hashtags.

    Returns:
        A square table indexed by hashtag in both directions. The diagonal is the
        number of posts with that tag.

    Raises:
        InsufficientDataError: Fewer than two hashtags, or no post has two of them.
    """
    stats = hashtag_stats(hashtags)
    top = stats["hashtag"].head(top_n).tolist()
    if len(top) < 2:
        raise InsufficientDataError(f"co-occurrence needs two hashtags, the data set has {len(top)}")
    pairs = hashtags[["post_id", "hashtag"]].drop_duplicates()
    pairs = pairs[pairs["hashtag"].isin(top)]
    incidence = pd.crosstab(pairs["post_id"], pairs["hashtag"]).clip(upper=1)[top]
    matrix = incidence.T @ incidence
    off_diagonal = matrix.to_numpy().sum() - np.trace(matrix.to_numpy())
    if off_diagonal == 0:
        raise InsufficientDataError("no post uses two of the most used hashtags together")
    return matrix.rename_axis(index="hashtag", columns="hashtag")


def weekly_activity(posts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Resample posts into calendar weeks from Monday 00:00 in time zone ``tz``.

    Returns:
        One row per week from the first to the last week with posts, indexed by the
        week's Monday. The columns are ``posts`` (posts taken that week), ``likes`` (sum
        of known ``like_count``) and ``likes_per_post`` (mean of known counts, missing
        in weeks without posts).

    Raises:
        InsufficientDataError: Fewer than two posts have a ``taken_at`` time, or they
            fall in a single week.
    """
    if "taken_at" not in posts.columns or posts["taken_at"].notna().sum() < 2:
        raise InsufficientDataError("fewer than two posts have a time when they were taken")
    timed = posts.dropna(subset=["taken_at"]).copy()
    timed["taken_at"] = timed["taken_at"].dt.tz_convert(tz)
    timed = timed.set_index("taken_at").sort_index()
    likes = pd.to_numeric(timed["like_count"]).astype("float64")
    # "W-MON" bins end on Mondays; closed and labelled on the left, each bin is the
    # week that starts on its Monday label.
    weekly = pd.DataFrame({
        "posts": likes.resample("W-MON", label="left", closed="left").size(),
        "likes": likes.resample("W-MON", label="left", closed="left").sum(min_count=0),
        "likes_per_post": likes.resample("W-MON", label="left", closed="left").mean(),
    })  # fmt: skip
    if len(weekly) < 2:
        raise InsufficientDataError("all posts with a time fall in a single week")
    weekly.index.name = "week_start"
    return weekly


def correlation_columns(frame: pd.DataFrame, candidates: Sequence[str], min_values: int = 3) -> list[str]:
    """Return the candidates that are numeric or bool, have ``min_values`` values and vary.

    Raises:
        InsufficientDataError: Fewer than two columns qualify.
    """
    chosen = []
    for name in candidates:
        if name not in frame.columns:
            continue
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
        if numeric and column.notna().sum() >= min_values and column.dropna().nunique() > 1:
            chosen.append(name)
    if len(chosen) < 2:
        raise InsufficientDataError(
            f"a correlation needs two varying numeric columns with at least {min_values} "
            f"values; of {list(candidates)} only {chosen} qualify"
        )
    return chosen


def training_skip_reason(pairs: pd.DataFrame, min_pairs: int = 10) -> str | None:
    """Return why a data set cannot train the recommender, or None when it can.

    Training needs (user, item) engagement pairs, and the per-user split needs a user
    with at least two pairs so that one can be held out for the test.

    Args:
        pairs: Engagement pairs with columns ``user_id`` and ``item_id``, such as
            :attr:`igtrends.datasets.InteractionData.interactions`.
        min_pairs: Fewest distinct pairs worth training on.
    """
    distinct = pairs[["user_id", "item_id"]].drop_duplicates()
    if len(distinct) < min_pairs:
        return (
            f"the data set has {len(distinct)} engagement pairs (a user who liked or commented "
            f"on a post), fewer than the {min_pairs} needed to train and test the recommender"
        )
    if distinct.groupby("user_id").size().max() < 2:
        return "no user has two engagement pairs, so none can be held out for the test"
    return None
