"""Generate the embedded sample: a synthetic Instagram world stored as raw API responses.

:func:`generate_sample` writes a :class:`~igtrends.client.RawStore` folder with the
responses a crawl of the data API would return, so the whole study runs without a key
or a network through :class:`~igtrends.client.ReplayTransport`. The same seed gives
byte-identical files.

The world is built to behave like Instagram:

- Follower counts are heavy-tailed (log10 followers is 1.3 plus an exponential), from
  tens to hundreds of millions. Search results show them as display strings
  ("27M followers"), profiles as integers, and a few profiles lack counts.
- Verification is a minority whose probability grows with follower count.
- Each hashtag belongs to one hidden topic, hashtag use is Zipf-distributed, and each
  post has a hidden topic from which it draws most of its hashtags.
- Each user has a sparse interest distribution over topics (Dirichlet with a small
  alpha). A user engages a post with probability proportional to
  ``interest[user, topic(post)] ** sharpness * appeal(post)``, where appeal grows
  mildly with the owner's followers, so personal interest dominates popularity.
- A post's like and comment counts are the sampled engagements plus a hidden outside
  audience scaled by the owner's followers, so counts exceed the observed likers.
- About half of the profiles list a few hashtags in their biography, drawn from their
  owner's interests like a post's hashtags from its topic. This is the one signal of
  taste that exists before an account engages with anything.

The hidden topics and interests are returned in :class:`SampleInfo` for tests and are
written to no file.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from igtrends.client import RawStore
from igtrends.errors import ConfigurationError
from igtrends.log import get_logger

__all__ = ["FETCHED_AT", "SampleInfo", "display_count", "generate_sample"]

log = get_logger("sample")

# Every record carries this fetch time, so that files do not depend on the clock.
FETCHED_AT = "2026-10-01T00:00:00+00:00"
START = 1_772_323_200  # 2026-03-01T00:00:00Z
END = 1_790_812_800  # 2026-10-01T00:00:00Z

POSTS_PAGE_SIZE = 12
COMMENTS_PAGE_SIZE = 15
SEARCH_RESULTS = 20
N_QUERIES = 5
MEDIA_TYPES = np.array([1, 2, 8])  # photo, video, carousel
MEDIA_TYPE_SHARES = np.array([0.55, 0.25, 0.20])
PRODUCT_TYPES = {1: "feed", 2: "clips", 8: "carousel_container"}

CREATOR_SHARE = 0.125  # share of users who post
INTEREST_ALPHA = 0.1  # Dirichlet concentration: small values give 1-3 dominant topics
SHARPNESS = 1.5
OFF_TOPIC_WEIGHT = 0.002  # floor added to interest ** sharpness, so a few engagements are off-topic
IN_TOPIC_HASHTAG_SHARE = 0.85
ZIPF_EXPONENT = 1.07
MIN_ENGAGEMENTS_PER_USER = 10
COMMENT_PAIR_SHARE = 0.1622  # with half of commented pairs also liked, 15% of events are comments
COMMENTED_ALSO_LIKED = 0.5
MISSING_PROFILE_COUNTS_SHARE = 0.02
MISSING_SEARCH_CONTEXT_SHARE = 0.1
HIDDEN_LIKE_COUNT_SHARE = 0.01
BIO_HASHTAG_SHARE = 0.5  # share of profiles whose biography lists hashtags
BIO_HASHTAG_MEAN = 2.0  # mean number of hashtags in such a biography

TOPIC_WORDS = (
    "travel", "food", "fitness", "gaming", "football", "news", "fashion", "beauty",
    "music", "art", "photography", "pets", "cars", "tech", "books", "film", "nature",
    "yoga", "coffee", "design",
)  # fmt: skip
TAG_FORMS = (
    "{w}", "{w}gram", "{w}lover", "{w}life", "{w}daily", "insta{w}", "{w}community",
    "{w}addict", "{w}tips", "{w}oftheday", "{w}2026", "{w}vibes",
)  # fmt: skip
ADJECTIVES = (
    "happy", "urban", "wild", "golden", "quiet", "lucky", "bright", "cosmic", "salty",
    "misty", "rapid", "velvet", "sunny", "brave", "lunar", "rustic", "neon", "frosty",
    "silent", "daily",
)  # fmt: skip
NOUNS = (
    "fox", "river", "pixel", "harbor", "maple", "comet", "otter", "canyon", "lantern",
    "meadow", "falcon", "ember", "island", "willow", "summit", "breeze", "atlas",
    "cedar", "tiger", "orbit",
)  # fmt: skip
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gia", "Hugo", "Ines", "Jonas", "Kai",
    "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar",
    "Vera", "Wen", "Yuki", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Novak", "Okafor", "Kim", "Larsen", "Moreau", "Rossi", "Sato", "Haddad",
    "Kowalski", "Mendes", "Nguyen", "Patel", "Schmidt", "Tanaka", "Weber", "Yilmaz",
)  # fmt: skip
CAPTION_OPENINGS = (
    "New post!", "Weekend mood.", "Can't stop thinking about this.", "Throwback.",
    "Behind the scenes.", "Swipe for more.", "A little update.", "Big news today.",
    "Morning ritual.", "Tell me what you think.",
)  # fmt: skip
COMMENT_TEXTS = (
    "Love this!", "So good 😍", "Amazing shot", "Where is this?", "Need this",
    "🔥🔥🔥", "Great tips, thanks", "This made my day", "Wow", "Saving this for later",
)  # fmt: skip

_SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class SampleInfo:
    """Summary of a generated sample: seeds to crawl, counts written and the hidden truth.

    Attributes:
        folder: The raw-store folder with the responses.
        seed: Seed of the random generator.
        queries: Search queries with recorded ``search_users`` responses.
        usernames: Usernames of every account that posts; the crawl seeds.
        n_users: Accounts in the world.
        n_posts: Posts in the world.
        n_likes: Like events recorded in the likers lists.
        n_comments: Comments recorded in the comment lists.
        n_files: Response files written.
        seconds: Wall time of the generation.
        user_ids: Account ids, in the row order of ``interests``.
        post_ids: Post ids, in the order of ``post_topics``.
        interests: Hidden interest of each user in each topic, shape
            ``(n_users, n_topics)``, rows summing to 1. Not written to any file.
        post_topics: Hidden topic of each post. Not written to any file.
        missing_follower_ids: Ids of users whose follower count no response gives.
    """

    folder: Path
    seed: int
    queries: tuple[str, ...]
    usernames: tuple[str, ...] = field(repr=False)
    n_users: int
    n_posts: int
    n_likes: int
    n_comments: int
    n_files: int
    seconds: float
    user_ids: tuple[str, ...] = field(repr=False)
    post_ids: tuple[str, ...] = field(repr=False)
    interests: np.ndarray = field(repr=False, compare=False)
    post_topics: np.ndarray = field(repr=False, compare=False)
    missing_follower_ids: tuple[str, ...] = field(repr=False)

    @property
    def n_engagements(self) -> int:
        """Like and comment events together."""
        return self.n_likes + self.n_comments


def display_count(count: int) -> str:
    """Format a count the way Instagram shows it: ``845``, ``9,845``, ``213K``, ``1.2M``.

    Counts below 10,000 get thousands separators. Larger ones get one decimal,
    truncated rather than rounded, and a K, M or B suffix, with a trailing ``.0``
    dropped.
    """
    if count < 10_000:
        return f"{count:,}"
    for threshold, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= threshold:
            scaled = (Decimal(count) / threshold).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
            text = f"{scaled:f}".removesuffix(".0")
            return f"{text}{suffix}"
    raise AssertionError("unreachable: counts of 10,000 and more match a threshold")


def generate_sample(
    out_dir: str | os.PathLike[str],
    *,
    n_users: int = 2000,
    n_posts: int = 5000,
    n_engagements: int = 100_000,
    seed: int = 42,
    n_topics: int = 20,
) -> SampleInfo:
    """Generate the sample world and write its API responses to ``out_dir``.

    Args:
        out_dir: Folder of the raw store. Existing files of the same requests are
            overwritten; other files are left alone.
        n_users: Accounts, of which about one in eight post.
        n_posts: Posts.
        n_engagements: Target number of like and comment events. The actual number is
            within a few percent, because likes are added to commented pairs at random.
        seed: Seed of :func:`numpy.random.default_rng`.
        n_topics: Hidden topics.

    Returns:
        The seeds to crawl, the counts written and the hidden truth.

    Raises:
        ConfigurationError: If the sizes cannot give every user at least ten
            engagements.
    """
    started = time.perf_counter()
    _check_sizes(n_users, n_posts, n_engagements, n_topics)
    rng = np.random.default_rng(seed)

    users = _make_users(rng, n_users, n_posts, n_topics)
    posts = _make_posts(rng, users, n_posts, n_topics)
    # A second generator draws the biographies, so the other values of a seed do not
    # depend on them.
    _add_biographies(np.random.default_rng([seed, 1]), users, posts)
    events = _sample_engagements(rng, users, posts, n_engagements)
    _add_post_counts(rng, users, posts, events)
    queries, search_results = _make_search(rng, users)
    _choose_missing_counts(rng, users, search_results)

    store = RawStore(out_dir, fsync=False)
    n_files = _write_responses(store, users, posts, events, queries, search_results, seed)

    seconds = time.perf_counter() - started
    info = SampleInfo(
        folder=Path(out_dir),
        seed=seed,
        queries=tuple(queries),
        usernames=tuple(users["username"][users["creator_index"]].tolist()),
        n_users=n_users,
        n_posts=n_posts,
        n_likes=int(events["liked"].sum()),
        n_comments=int(events["commented"].sum()),
        n_files=n_files,
        seconds=seconds,
        user_ids=tuple(users["id"].tolist()),
        post_ids=tuple(posts["id"].tolist()),
        interests=users["interest"],
        post_topics=posts["topic"],
        missing_follower_ids=tuple(users["id"][users["missing_counts"]].tolist()),
    )
    log.info(
        "wrote sample to %s: %d users, %d posts, %d likes, %d comments, %d files in %.1f s",
        out_dir, n_users, n_posts, info.n_likes, info.n_comments, n_files, seconds,
    )  # fmt: skip
    return info


def _check_sizes(n_users: int, n_posts: int, n_engagements: int, n_topics: int) -> None:
    if n_users < 20 or n_posts < 20 or n_topics < 1:
        raise ConfigurationError(
            f"sample too small: n_users={n_users}, n_posts={n_posts}, n_topics={n_topics}; "
            "use at least 20 users, 20 posts and 1 topic"
        )
    minimum = MIN_ENGAGEMENTS_PER_USER * n_users
    if n_engagements < 1.1 * minimum or MIN_ENGAGEMENTS_PER_USER * 2 > n_posts:
        raise ConfigurationError(
            f"n_engagements={n_engagements} cannot give each of {n_users} users "
            f"{MIN_ENGAGEMENTS_PER_USER} engagements from {n_posts} posts; use "
            f"n_engagements >= {int(1.1 * minimum)} and n_posts >= "
            f"{2 * MIN_ENGAGEMENTS_PER_USER}"
        )


def _make_users(
    rng: np.random.Generator, n_users: int, n_posts: int, n_topics: int
) -> dict[str, Any]:
    """Draw accounts: ids, names, counts, flags and hidden interests."""
    ids = 1_000_000_000 + np.cumsum(rng.integers(1, 40_000_000, n_users))
    adjectives = rng.integers(0, len(ADJECTIVES), n_users)
    nouns = rng.integers(0, len(NOUNS), n_users)
    usernames = np.array(
        [f"{ADJECTIVES[a]}_{NOUNS[n]}{i}" for i, (a, n) in enumerate(zip(adjectives, nouns))]
    )
    first = rng.integers(0, len(FIRST_NAMES), n_users)
    last = rng.integers(0, len(LAST_NAMES), n_users)
    has_name = rng.random(n_users) > 0.05
    full_names = np.array(
        [f"{FIRST_NAMES[f]} {LAST_NAMES[g]}" if h else None for f, g, h in zip(first, last, has_name)],
        dtype=object,
    )

    # log10(followers) = 1.3 + Exponential(0.95): a median of about 100 followers and a
    # tail up to hundreds of millions for a few thousand accounts.
    log_followers = np.minimum(1.3 + rng.exponential(0.95, n_users), 8.8)
    followers = np.round(10**log_followers).astype(np.int64)
    verified = rng.random(n_users) < 1 / (1 + np.exp(-2.2 * (log_followers - 5.3)))
    following = np.minimum(np.round(rng.lognormal(np.log(300), 1.0, n_users)), 7500).astype(np.int64)

    # Every creator has at least one post, so there are at most n_posts creators.
    n_creators = min(max(5, int(round(CREATOR_SHARE * n_users))), n_posts)
    creator_weight = followers.astype(float) ** 0.35
    creator_index = np.sort(
        rng.choice(n_users, n_creators, replace=False, p=creator_weight / creator_weight.sum())
    )
    is_creator = np.zeros(n_users, dtype=bool)
    is_creator[creator_index] = True
    private = ~is_creator & (rng.random(n_users) < 0.1)

    interest = rng.dirichlet(np.full(n_topics, INTEREST_ALPHA), n_users)
    return {
        "n": n_users,
        "id": ids.astype(str),
        "username": usernames,
        "full_name": full_names,
        "followers": followers,
        "following": following,
        "verified": verified,
        "private": private,
        "creator_index": creator_index,
        "interest": interest,
        "media_count": np.round(rng.lognormal(np.log(40), 1.0, n_users)).astype(np.int64),
        "missing_counts": np.zeros(n_users, dtype=bool),
    }


def _make_posts(
    rng: np.random.Generator, users: dict[str, Any], n_posts: int, n_topics: int
) -> dict[str, Any]:
    """Draw posts: owner, hidden topic, time, media type, hashtags and caption."""
    creators = users["creator_index"]
    weight = users["followers"][creators].astype(float) ** 0.3 * rng.lognormal(0, 0.5, creators.size)
    extra = rng.choice(creators.size, n_posts - creators.size, p=weight / weight.sum())
    owner = creators[np.concatenate([np.arange(creators.size), extra])]

    # A post's topic follows its owner's own interests, so accounts stay on theme.
    cumulative = np.cumsum(users["interest"][owner], axis=1)
    topic = _inverse_cdf(cumulative, rng.random(n_posts) * cumulative[:, -1])

    taken_at = np.sort(rng.integers(START, END, n_posts))
    order = rng.permutation(n_posts)  # decouple owners and topics from time order
    owner, topic = owner[order], topic[order]
    # Instagram post ids grow with time, so ids are assigned in time order.
    ids = 3_300_000_000_000_000_000 + np.cumsum(rng.integers(10**9, 10**12, n_posts))
    media_type = rng.choice(MEDIA_TYPES, n_posts, p=MEDIA_TYPE_SHARES)

    hashtags, vocabulary, in_topic_cdf = _draw_hashtags(rng, topic, n_topics)
    openings = rng.integers(0, len(CAPTION_OPENINGS), n_posts)
    capitalised = rng.random(n_posts) < 0.2
    captions = []
    for i in range(n_posts):
        tags = [f"#{tag}" for tag in hashtags[i]]
        if capitalised[i] and tags:
            tags[0] = "#" + tags[0][1:].capitalize()
        captions.append(f"{CAPTION_OPENINGS[openings[i]]}\n\n{' '.join(tags)}")

    return {
        "n": n_posts,
        "id": ids.astype(str),
        "owner": owner,
        "topic": topic,
        "taken_at": taken_at,
        "media_type": media_type,
        "caption": captions,
        "caption_id": (17_800_000_000_000_000 + np.arange(n_posts) * 7919).astype(str),
        "vocabulary": vocabulary,
        "in_topic_cdf": in_topic_cdf,
    }


def _add_biographies(rng: np.random.Generator, users: dict[str, Any], posts: dict[str, Any]) -> None:
    """Draw each user's biography hashtags: topics from their interests, tags within a topic."""
    n_users = users["n"]
    in_topic_cdf = posts["in_topic_cdf"]
    has_tags = rng.random(n_users) < BIO_HASHTAG_SHARE
    n_tags = np.where(has_tags, 1 + rng.poisson(BIO_HASHTAG_MEAN - 1, n_users), 0)
    user_of_draw = np.repeat(np.arange(n_users), n_tags)

    cumulative = np.cumsum(users["interest"][user_of_draw], axis=1)
    topic = _inverse_cdf(cumulative, rng.random(user_of_draw.size) * cumulative[:, -1])
    form = _inverse_cdf(in_topic_cdf[topic], rng.random(user_of_draw.size))
    choice = topic * in_topic_cdf.shape[1] + form
    users["bio_hashtags"] = _distinct_per_owner(n_users, user_of_draw, posts["vocabulary"][choice])


def _draw_hashtags(
    rng: np.random.Generator, topic: np.ndarray, n_topics: int
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Draw each post's hashtags: mostly from its topic, Zipf-distributed overall.

    Returns:
        The hashtags of each post, the vocabulary (topic-major, one tag per form) and the
        cumulative distribution of each topic's tags, shape ``(n_topics, forms)``.
    """
    words = [
        TOPIC_WORDS[t % len(TOPIC_WORDS)] + (str(t // len(TOPIC_WORDS)) if t >= len(TOPIC_WORDS) else "")
        for t in range(n_topics)
    ]
    vocabulary = np.array([form.format(w=word) for word in words for form in TAG_FORMS])
    tag_topic = np.repeat(np.arange(n_topics), len(TAG_FORMS))
    # Zipf popularity over a random ranking of the whole vocabulary.
    rank = rng.permutation(vocabulary.size) + 1
    popularity = rank.astype(float) ** -ZIPF_EXPONENT

    in_topic = popularity.reshape(n_topics, len(TAG_FORMS))
    in_topic_cdf = np.cumsum(in_topic, axis=1) / in_topic.sum(axis=1, keepdims=True)
    global_cdf = np.cumsum(popularity) / popularity.sum()

    n_tags = np.minimum(1 + rng.poisson(2.5, topic.size), 10)
    post_of_draw = np.repeat(np.arange(topic.size), n_tags)
    uniform = rng.random(post_of_draw.size)
    from_topic = rng.random(post_of_draw.size) < IN_TOPIC_HASHTAG_SHARE

    draw_topic = topic[post_of_draw]
    in_topic_choice = _inverse_cdf(in_topic_cdf[draw_topic], uniform) + draw_topic * len(TAG_FORMS)
    global_choice = np.minimum(np.searchsorted(global_cdf, uniform), vocabulary.size - 1)
    choice = np.where(from_topic, in_topic_choice, global_choice)
    assert (tag_topic[in_topic_choice] == draw_topic).all()

    hashtags = _distinct_per_owner(topic.size, post_of_draw, vocabulary[choice])
    return hashtags, vocabulary, in_topic_cdf


def _inverse_cdf(cumulative: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Return, for each row, the first column whose cumulative weight reaches its target.

    ``targets`` are uniform draws scaled to each row's total weight. The result is capped
    at the last column, which rounding could otherwise pass.
    """
    return np.minimum((cumulative < targets[:, None]).sum(axis=1), cumulative.shape[1] - 1)


def _distinct_per_owner(n_owners: int, owners: np.ndarray, values: np.ndarray) -> list[list[str]]:
    """Collect ``values`` into one list per owner, without repeats, in draw order."""
    lists: list[list[str]] = [[] for _ in range(n_owners)]
    for owner, value in zip(owners.tolist(), values.tolist()):
        if value not in lists[owner]:
            lists[owner].append(value)
    return lists


def _sample_engagements(
    rng: np.random.Generator, users: dict[str, Any], posts: dict[str, Any], n_engagements: int
) -> dict[str, np.ndarray]:
    """Sample distinct (user, post) pairs by interest and appeal, then like or comment."""
    n_users, n_posts = users["n"], posts["n"]
    owner_followers = users["followers"][posts["owner"]].astype(float)
    appeal = owner_followers**0.1 * rng.lognormal(0.0, 0.4, n_posts)

    # Each commented pair is also liked with probability COMMENTED_ALSO_LIKED, so the
    # expected events per pair are 1 + COMMENT_PAIR_SHARE * COMMENTED_ALSO_LIKED.
    n_pairs = int(round(n_engagements / (1 + COMMENT_PAIR_SHARE * COMMENTED_ALSO_LIKED)))
    activity = rng.lognormal(0.0, 0.8, n_users)
    spare = n_pairs - MIN_ENGAGEMENTS_PER_USER * n_users
    share = activity / activity.sum() * spare
    extra = np.floor(share).astype(int)
    # Largest remainders get the pairs that flooring dropped, so the total is n_pairs.
    extra[np.argsort(extra - share)[: spare - extra.sum()]] += 1
    per_user = np.minimum(MIN_ENGAGEMENTS_PER_USER + extra, n_posts // 2)

    # Gumbel top-k: the k largest log(weight) + Gumbel noise of a row are a sample of
    # k posts without replacement with probability proportional to weight.
    weight = (users["interest"][:, posts["topic"]] ** SHARPNESS + OFF_TOPIC_WEIGHT) * appeal
    keys = np.log(weight) + rng.gumbel(size=weight.shape)
    keys[posts["owner"], np.arange(n_posts)] = -np.inf  # users do not engage their own posts
    del weight
    order = np.argsort(-keys, axis=1)
    del keys
    chosen = np.arange(n_posts)[None, :] < per_user[:, None]
    user = np.repeat(np.arange(n_users), per_user)
    post = order[chosen]

    commented = rng.random(user.size) < COMMENT_PAIR_SHARE
    liked = ~commented | (rng.random(user.size) < COMMENTED_ALSO_LIKED)
    delay = rng.exponential(86_400.0, user.size)  # comments arrive within days of posting
    comment_time = np.minimum(posts["taken_at"][post] + 60 + delay.astype(np.int64), END - 1)

    # Sort by post so that each post's likers and comments are contiguous.
    by_post = np.lexsort((user, post))
    return {
        "user": user[by_post],
        "post": post[by_post],
        "liked": liked[by_post],
        "commented": commented[by_post],
        "comment_time": comment_time[by_post],
    }


def _add_post_counts(
    rng: np.random.Generator, users: dict[str, Any], posts: dict[str, Any], events: dict[str, np.ndarray]
) -> None:
    """Set like and comment counts: observed events plus a hidden outside audience."""
    n_posts = posts["n"]
    observed_likes = np.bincount(events["post"][events["liked"]], minlength=n_posts)
    observed_comments = np.bincount(events["post"][events["commented"]], minlength=n_posts)
    followers = users["followers"][posts["owner"]].astype(float)
    like_rate = 0.02 * rng.lognormal(0.0, 0.6, n_posts)
    posts["like_count"] = observed_likes + rng.poisson(followers * like_rate)
    posts["comment_count"] = observed_comments + rng.poisson(followers * like_rate * 0.02)
    posts["likes_hidden"] = rng.random(n_posts) < HIDDEN_LIKE_COUNT_SHARE

    # A profile's media count is at least the posts it has in the sample.
    own_posts = np.bincount(posts["owner"], minlength=users["n"])
    users["media_count"] = np.maximum(users["media_count"], own_posts)


def _make_search(rng: np.random.Generator, users: dict[str, Any]) -> tuple[list[str], list[list[int]]]:
    """Pick search queries (name fragments) and their results, most followers first."""
    queries = sorted(rng.choice(NOUNS, N_QUERIES, replace=False).tolist())
    results = []
    for query in queries:
        matches = np.flatnonzero(np.char.find(users["username"].astype(str), query) >= 0)
        ranked = matches[np.argsort(-users["followers"][matches], kind="stable")]
        results.append(ranked[:SEARCH_RESULTS].tolist())
    return queries, results


def _choose_missing_counts(
    rng: np.random.Generator, users: dict[str, Any], search_results: list[list[int]]
) -> None:
    """Mark profiles without counts, among users no search result shows."""
    in_search = np.zeros(users["n"], dtype=bool)
    in_search[[index for result in search_results for index in result]] = True
    candidates = np.flatnonzero(~in_search)
    n_missing = max(1, int(round(MISSING_PROFILE_COUNTS_SHARE * users["n"])))
    missing = rng.choice(candidates, min(n_missing, candidates.size), replace=False)
    users["missing_counts"][missing] = True
    users["search_context_missing"] = rng.random(users["n"]) < MISSING_SEARCH_CONTEXT_SHARE


def _user_summary(users: dict[str, Any], index: int) -> dict[str, Any]:
    """Build the short user object of likers, comments and post owners, without counts."""
    pk = str(users["id"][index])
    return {
        "pk": pk,
        "id": pk,
        "username": str(users["username"][index]),
        "full_name": users["full_name"][index],
        "is_verified": bool(users["verified"][index]),
        "is_private": bool(users["private"][index]),
        "profile_pic_url": f"https://cdn.example.invalid/profile/{pk}.jpg",
    }


def _shortcode(pk: int) -> str:
    """Encode a media id as Instagram shortcodes do: base 64, most significant first."""
    digits = []
    while pk:
        pk, remainder = divmod(pk, 64)
        digits.append(_SHORTCODE_ALPHABET[remainder])
    return "".join(reversed(digits)) or "A"


def _page_token(seed: int, *parts: object) -> str:
    text = ":".join(str(part) for part in (seed, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _write_responses(
    store: RawStore,
    users: dict[str, Any],
    posts: dict[str, Any],
    events: dict[str, np.ndarray],
    queries: list[str],
    search_results: list[list[int]],
    seed: int,
) -> int:
    """Write every response the crawl requests; return the number of files."""
    n_files = 0

    def put(endpoint: str, params: dict[str, str], response: dict[str, Any]) -> None:
        nonlocal n_files
        store.put(endpoint, params, response, fetched_at=FETCHED_AT)
        n_files += 1

    for query, result in zip(queries, search_results):
        put("search_users", {"search_query": query}, {"users": [_search_item(users, i, p) for p, i in enumerate(result)]})

    for index in range(users["n"]):
        put("user_info", {"username_or_url": str(users["username"][index])}, _profile(users, index))

    nodes = [_post_node(users, posts, p) for p in range(posts["n"])]
    newest_first = np.argsort(-posts["taken_at"], kind="stable")
    owner_sorted = posts["owner"][newest_first]
    for owner in users["creator_index"]:
        own = newest_first[owner_sorted == owner]
        username = str(users["username"][owner])
        pages = [own[start : start + POSTS_PAGE_SIZE] for start in range(0, own.size, POSTS_PAGE_SIZE)]
        for number, page in enumerate(pages):
            params = {"username_or_url": username}
            if number > 0:
                params["pagination_token"] = _page_token(seed, "posts", username, number)
            response: dict[str, Any] = {"posts": [{"node": nodes[p]} for p in page]}
            if number + 1 < len(pages):
                response["pagination_token"] = _page_token(seed, "posts", username, number + 1)
            put("user_posts", params, response)

    # Searched accounts that do not post get an empty first page, because the crawl
    # requests the posts of every account a search returns.
    searched = {index for result in search_results for index in result}
    for index in sorted(searched - set(users["creator_index"].tolist())):
        put("user_posts", {"username_or_url": str(users["username"][index])}, {"posts": []})

    boundaries = np.searchsorted(events["post"], np.arange(posts["n"] + 1))
    for post in range(posts["n"]):
        rows = slice(boundaries[post], boundaries[post + 1])
        post_id = str(posts["id"][post])
        likers = events["user"][rows][events["liked"][rows]]
        put("post_likers", {"post_id": post_id}, {"users": [_user_summary(users, u) for u in likers]})

        commented = events["commented"][rows]
        commenters = events["user"][rows][commented]
        times = events["comment_time"][rows][commented]
        by_time = np.argsort(times, kind="stable")
        comments = [
            _comment(users, post_id, commenters[i], int(times[i]), number)
            for number, i in enumerate(by_time)
        ]
        pages = [comments[start : start + COMMENTS_PAGE_SIZE] for start in range(0, len(comments), COMMENTS_PAGE_SIZE)] or [[]]
        for number, page in enumerate(pages):
            params = {"post_id": post_id, "sort_order": "popular"}
            if number > 0:
                params["pagination_token"] = _page_token(seed, "comments", post_id, number)
            response = {"comments": page}
            if number + 1 < len(pages):
                response["pagination_token"] = _page_token(seed, "comments", post_id, number + 1)
            put("post_comments", params, response)
    return n_files


def _search_item(users: dict[str, Any], index: int, position: int) -> dict[str, Any]:
    user = _user_summary(users, index)
    if not users["search_context_missing"][index]:
        user["search_social_context"] = f"{display_count(int(users['followers'][index]))} followers"
    return {"position": position, "user": user}


def _profile(users: dict[str, Any], index: int) -> dict[str, Any]:
    profile = _user_summary(users, index)
    biography = f"{users['username'][index].replace('_', ' ')} on Instagram"
    tags = users["bio_hashtags"][index]
    if tags:
        biography += "\n" + " ".join(f"#{tag}" for tag in tags)
    profile["biography"] = biography
    if not users["missing_counts"][index]:
        profile["follower_count"] = int(users["followers"][index])
        profile["following_count"] = int(users["following"][index])
        profile["media_count"] = int(users["media_count"][index])
    return profile


def _post_node(users: dict[str, Any], posts: dict[str, Any], index: int) -> dict[str, Any]:
    owner = int(posts["owner"][index])
    pk = str(posts["id"][index])
    media_type = int(posts["media_type"][index])
    taken_at = int(posts["taken_at"][index])
    hidden = bool(posts["likes_hidden"][index])
    owner_summary = _user_summary(users, owner)
    return {
        "pk": pk,
        "id": f"{pk}_{owner_summary['pk']}",
        "code": _shortcode(int(pk)),
        "taken_at": taken_at,
        "media_type": media_type,
        "product_type": PRODUCT_TYPES[media_type],
        "like_count": None if hidden else int(posts["like_count"][index]),
        "like_and_view_counts_disabled": hidden,
        "comment_count": int(posts["comment_count"][index]),
        "caption": {
            "pk": str(posts["caption_id"][index]),
            "text": posts["caption"][index],
            "created_at": taken_at + 1,
        },
        "user": owner_summary,
        "owner": {key: owner_summary[key] for key in ("pk", "id", "username", "is_verified", "is_private")},
    }


def _comment(users: dict[str, Any], post_id: str, user: int, created_at: int, number: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{post_id}:{number}".encode()).digest()
    comment_id = 18_000_000_000_000_000 + int.from_bytes(digest[:6], "big")
    return {
        "pk": str(comment_id),
        "text": COMMENT_TEXTS[int.from_bytes(digest[6:8], "big") % len(COMMENT_TEXTS)],
        "created_at": created_at,
        "user": _user_summary(users, int(user)),
    }
