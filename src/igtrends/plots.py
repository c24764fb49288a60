"""Figures for the igtrends report: exploration of the tables and model evaluation.

Every function returns a :class:`matplotlib.figure.Figure` and never shows it. The
figures are built with the object API on ``Figure`` directly rather than through
``pyplot``, so they are not registered in pyplot's list of open figures. That keeps
memory flat when figures are made in a loop, and a notebook cell that returns a figure
shows it once. Save a figure with :func:`save_figure`.

All figures use the :func:`report_style` settings and seaborn's "colorblind" palette.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from igtrends.errors import InsufficientDataError
from igtrends.log import get_logger

logger = get_logger("plots")

PALETTE = sns.color_palette("colorblind")

_TITLE_SIZE = 14
_LABEL_SIZE = 12
_TICK_SIZE = 10

_REPORT_RC = {
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.titlesize": _TITLE_SIZE,
    "axes.labelsize": _LABEL_SIZE,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.titlesize": _TITLE_SIZE + 2,
    "font.size": _LABEL_SIZE,
    "legend.fontsize": _TICK_SIZE,
    "xtick.labelsize": _TICK_SIZE,
    "ytick.labelsize": _TICK_SIZE,
    "svg.fonttype": "none",
}

_CORRELATION_METHODS = ("pearson", "spearman", "kendall")


@contextmanager
def report_style() -> Iterator[None]:
    """Apply the report's matplotlib settings inside a ``with`` block.

    The settings are larger fonts, the "colorblind" palette, a light grid and no top or
    right spines. SVG files keep text as text, so it stays searchable and editable.
    """
    with mpl.rc_context(_REPORT_RC):
        yield


def save_figure(
    fig: Figure,
    folder: str | Path,
    name: str,
    formats: Sequence[str] = ("png", "svg"),
    dpi: int = 150,
) -> list[Path]:
    """Write ``fig`` as ``folder/name.<format>`` for each format, then close it.

    Args:
        fig: The figure to save.
        folder: Output folder, created with its parents if missing.
        name: File name without extension.
        formats: File formats that matplotlib can write, such as "png", "svg" or "pdf".
        dpi: Resolution of raster formats in dots per inch.

    Returns:
        The paths written, in the order of ``formats``.

    Raises:
        ValueError: ``name`` contains a path separator, or a format is not supported.
    """
    if not name or Path(name).name != name:
        raise ValueError(
            f"figure name must be a plain file name without folders, got {name!r}. "
            "Pass the folder as the folder argument."
        )
    supported = fig.canvas.get_supported_filetypes()
    unknown = [fmt for fmt in formats if fmt not in supported]
    if unknown:
        raise ValueError(
            f"unsupported figure format(s) {unknown}. Choose from {sorted(supported)}."
        )

    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            with report_style():
                fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
            paths.append(path)
            logger.info("saved figure %s", path)
    finally:
        plt.close(fig)
    return paths


# Instagram tables


def alt_text(fig: Figure) -> str:
    """Describe ``fig`` for the alternative text of an image, in one sentence per panel.

    The sentences name the figure's title, each panel's title and its axis labels, so a
    screen reader can tell which chart it is. They do not describe the data.
    """
    parts = []
    suptitle = fig.get_suptitle()
    if suptitle:
        parts.append(f"Chart: {suptitle}.")
    for ax in fig.axes:
        title, xlabel, ylabel = ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
        if not (title or xlabel or ylabel):
            continue  # colour bars and other unlabelled axes
        panel = f"Panel {title}" if title else "Panel"
        labels = []
        if xlabel:
            labels.append(f"horizontal axis {xlabel}")
        if ylabel:
            labels.append(f"vertical axis {ylabel}")
        parts.append(f"{panel}: {', '.join(labels)}." if labels else f"{panel}.")
    return " ".join(parts) or "Chart without a title."


def display_figure(fig: Figure, alt: str | None = None) -> None:
    """Show ``fig`` in a notebook with alternative text, which report.html keeps.

    Args:
        fig: The figure to show.
        alt: The alternative text. None means :func:`alt_text` of ``fig``.
    """
    from IPython.display import display

    display(fig, metadata={"image/png": {"alt": alt if alt is not None else alt_text(fig)}})


def follower_histogram(users: pd.DataFrame, bins: int = 30) -> Figure:
    """Plot the distribution of follower counts, raw on a log axis and min-max scaled.

    The left panel uses log-spaced bins over the positive counts, because follower counts
    span several orders of magnitude. The right panel scales the counts to [0, 1] with
    min-max scaling, as in the original study's figure. Missing counts are dropped and
    their number is stated in the figure title. Zero counts cannot appear on a log axis,
    so the left panel states how many there are.

    Args:
        users: Users table with a ``follower_count`` column.
        bins: Number of bins in each panel.

    Raises:
        ValueError: ``follower_count`` is missing, has no values, or has negative values.
    """
    _require_columns(users, ["follower_count"], "users")
    try:
        counts = pd.to_numeric(users["follower_count"]).astype("float64")
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"follower_count must be numeric ({error}). Parse display strings such as "
            "'27M followers' into integers before plotting."
        ) from error
    missing = int(counts.isna().sum())
    counts = counts.dropna()
    if counts.empty:
        raise ValueError(
            f"follower_count has no values to plot: all {missing} rows are missing"
        )
    if (counts < 0).any():
        raise ValueError(
            f"follower_count has negative values, the minimum is {counts.min():g}. "
            "Counts must be 0 or more."
        )

    with report_style():
        fig, (log_ax, scaled_ax) = _new_figure(1, 2, figsize=(12, 4.5))

        positive = counts[counts > 0]
        zeros = len(counts) - len(positive)
        if positive.empty:
            log_ax.text(0.5, 0.5, "no positive follower counts", ha="center",
                        transform=log_ax.transAxes)
        else:
            log_ax.hist(positive.to_numpy(), bins=_log_bins(positive, bins), color=PALETTE[0])
            log_ax.set_xscale("log")
        log_ax.set_title("Follower counts (log scale)")
        log_ax.set_xlabel("followers (log scale)")
        log_ax.set_ylabel("accounts")
        if zeros:
            log_ax.annotate(f"{zeros} accounts with 0 followers not shown",
                            xy=(0.98, 0.95), xycoords="axes fraction", ha="right", va="top")

        low, high = counts.min(), counts.max()
        if high > low:
            scaled = (counts - low) / (high - low)
        else:
            # A constant column has no spread, so every value maps to 0 instead of 0/0.
            scaled = counts * 0.0
            scaled_ax.annotate(f"all counts equal {low:g}", xy=(0.98, 0.95),
                               xycoords="axes fraction", ha="right", va="top")
        scaled_ax.hist(scaled.to_numpy(), bins=np.linspace(0.0, 1.0, bins + 1), color=PALETTE[1])
        scaled_ax.set_xlim(0.0, 1.0)
        scaled_ax.set_title("Follower counts, min-max scaled")
        scaled_ax.set_xlabel("follower count scaled to [0, 1]")
        scaled_ax.set_ylabel("accounts")

        fig.suptitle(
            f"Follower counts of {len(counts)} accounts ({missing} missing, not shown)"
        )
    return fig


def verified_bar(users: pd.DataFrame) -> Figure:
    """Plot the number of verified and non-verified accounts, with the count on each bar.

    Accounts whose ``is_verified`` value is missing get a third bar, "unknown", when
    there are any.

    Raises:
        ValueError: ``is_verified`` is missing.
    """
    _require_columns(users, ["is_verified"], "users")
    flags = users["is_verified"].astype("boolean")
    labels = ["verified", "not verified"]
    # The sum of a nullable boolean column skips <NA>, so each sum counts one value.
    counts = [int(flags.sum()), int((~flags).sum())]
    missing = int(flags.isna().sum())
    if missing:
        labels.append("unknown")
        counts.append(missing)

    with report_style():
        fig, ax = _new_figure(figsize=(6, 4.5))
        bars = ax.bar(labels, counts, color=PALETTE[: len(labels)])
        ax.bar_label(bars, padding=3)
        ax.set_title("Verified and non-verified accounts")
        ax.set_xlabel("account status")
        ax.set_ylabel("accounts")
        ax.margins(y=0.12)
        ax.grid(axis="x", visible=False)
    return fig


def top_hashtags_bar(hashtags: pd.DataFrame, n: int = 15) -> Figure:
    """Plot the ``n`` hashtags used by the most posts as a horizontal bar chart.

    A post that lists the same hashtag twice counts once. Ties are ordered by hashtag
    name, and the most used hashtag is at the top.

    Args:
        hashtags: Table with one row per post and hashtag (``post_id``, ``hashtag``).
        n: Number of hashtags to show.

    Raises:
        ValueError: A column is missing, ``n`` is below 1, or the table has no hashtags.
    """
    _require_columns(hashtags, ["post_id", "hashtag"], "hashtags")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    pairs = hashtags[["post_id", "hashtag"]].dropna().drop_duplicates()
    if pairs.empty:
        raise ValueError("hashtags table has no rows with both post_id and hashtag")

    posts_per_tag = (
        pairs.groupby("hashtag").size().rename("posts").reset_index()
        .sort_values(["posts", "hashtag"], ascending=[False, True])
        .head(n)
    )

    with report_style():
        height = max(3.0, 0.35 * len(posts_per_tag) + 1.5)
        fig, ax = _new_figure(figsize=(8, height))
        labels = ["#" + str(tag) for tag in posts_per_tag["hashtag"]]
        bars = ax.barh(labels, posts_per_tag["posts"].to_numpy(), color=PALETTE[0])
        ax.bar_label(bars, padding=3)
        ax.invert_yaxis()
        ax.set_title(f"Top {len(posts_per_tag)} hashtags by number of posts")
        ax.set_xlabel("posts")
        ax.set_ylabel("hashtag")
        ax.margins(x=0.1)
        ax.grid(axis="y", visible=False)
    return fig


def correlation_heatmap(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    method: str = "spearman",
) -> Figure:
    """Plot an annotated heatmap of the pairwise correlations of numeric and bool columns.

    Spearman rank correlation is the default because counts such as followers and likes
    are heavy-tailed, and a few very large accounts would dominate Pearson correlation.
    Missing values are dropped pair by pair.

    Args:
        df: Table to correlate, for example users or posts.
        columns: Columns to use. The default is every numeric or bool column.
        method: "spearman", "pearson" or "kendall".

    Raises:
        ValueError: A column is missing or not numeric, fewer than two columns remain,
            or ``method`` is unknown.
    """
    if method not in _CORRELATION_METHODS:
        raise ValueError(f"unknown correlation method {method!r}. Use one of {_CORRELATION_METHODS}.")
    if columns is None:
        columns = [name for name in df.columns if _is_numeric_or_bool(df[name])]
    else:
        columns = list(columns)
        _require_columns(df, columns, "table")
        not_numeric = [name for name in columns if not _is_numeric_or_bool(df[name])]
        if not_numeric:
            raise ValueError(
                f"columns {not_numeric} are not numeric or bool. "
                "Encode them as numbers or leave them out of columns."
            )
    if len(columns) < 2:
        raise ValueError(
            f"a correlation heatmap needs at least two numeric or bool columns, got {columns}"
        )

    values = df[columns].astype("float64")
    correlation = values.corr(method=method)

    with report_style():
        size = max(5.0, 0.9 * len(columns) + 2.0)
        fig, ax = _new_figure(figsize=(size + 1.0, size))
        sns.heatmap(
            correlation,
            ax=ax,
            vmin=-1.0,
            vmax=1.0,
            center=0.0,
            cmap="vlag",
            annot=True,
            fmt=".2f",
            square=True,
            cbar_kws={"label": f"{method.capitalize()} correlation"},
        )
        ax.set_title(f"{method.capitalize()} correlation of {len(columns)} columns")
        ax.grid(False)
    return fig


def engagement_tier_plot(tiers: pd.DataFrame) -> Figure:
    """Plot engagement rate against follower count, per account and per follower tier.

    The left panel is a scatter on a log follower axis. The right panel has one box per
    tier, whose line is the tier's median rate. Rates are drawn in percent.

    Args:
        tiers: Table from :func:`igtrends.trends.engagement_by_tier` with the columns
            ``follower_count``, ``engagement_rate`` (a fraction) and ``tier``.

    Raises:
        ValueError: A column is missing or the table is empty.
    """
    _require_columns(tiers, ["follower_count", "engagement_rate", "tier"], "tiers")
    if tiers.empty:
        raise ValueError("tiers table is empty, so there is nothing to plot")
    percent = tiers["engagement_rate"].astype("float64") * 100.0
    labels = [str(label) for label in tiers["tier"].cat.categories
              if (tiers["tier"] == label).any()]

    with report_style():
        fig, (scatter_ax, box_ax) = _new_figure(1, 2, figsize=(12, 4.5))
        scatter_ax.scatter(tiers["follower_count"].astype("float64"), percent, s=14,
                           alpha=0.6, color=PALETTE[0])
        scatter_ax.set_xscale("log")
        scatter_ax.set_title("Engagement rate by account")
        scatter_ax.set_xlabel("followers (log scale)")
        scatter_ax.set_ylabel("engagement rate (% of followers)")

        groups = [percent[tiers["tier"] == label].to_numpy() for label in labels]
        box_ax.boxplot(groups, tick_labels=labels, showfliers=False,
                       medianprops={"color": PALETTE[3], "linewidth": 2})
        box_ax.set_title("Engagement rate by follower tier (quantiles)")
        box_ax.set_xlabel("follower tier (followers)")
        box_ax.set_ylabel("engagement rate (% of followers)")
        box_ax.grid(axis="x", visible=False)
        fig.suptitle(f"Likes per post as a share of followers, {len(tiers)} accounts")
    return fig


def hashtag_engagement_bar(stats: pd.DataFrame, n: int = 15, min_posts: int = 3) -> Figure:
    """Plot the ``n`` hashtags with the most mean likes per post, among tags with ``min_posts`` posts.

    Args:
        stats: Table from :func:`igtrends.trends.hashtag_stats`.
        n: Number of hashtags to show.
        min_posts: Fewest posts a hashtag needs, because a mean over one post is noise.

    Raises:
        ValueError: A column is missing.
        InsufficientDataError: No hashtag has ``min_posts`` posts with known likes.
    """
    _require_columns(stats, ["hashtag", "posts", "mean_likes"], "hashtag stats")
    shown = stats[(stats["posts"] >= min_posts) & stats["mean_likes"].notna()]
    if shown.empty:
        raise InsufficientDataError(f"no hashtag has {min_posts} or more posts with known likes")
    shown = shown.sort_values(["mean_likes", "hashtag"], ascending=[False, True]).head(n)

    with report_style():
        fig, ax = _new_figure(figsize=(8, max(3.0, 0.35 * len(shown) + 1.5)))
        labels = ["#" + str(tag) for tag in shown["hashtag"]]
        bars = ax.barh(labels, shown["mean_likes"].astype("float64").to_numpy(), color=PALETTE[2])
        ax.bar_label(bars, labels=[f"{value:,.0f} ({posts} posts)" for value, posts
                                   in zip(shown["mean_likes"], shown["posts"])], padding=3)
        ax.invert_yaxis()
        ax.set_title(f"Top {len(shown)} hashtags by mean likes per post (at least {min_posts} posts)")
        ax.set_xlabel("mean likes per post")
        ax.set_ylabel("hashtag")
        ax.margins(x=0.25)
        ax.grid(axis="y", visible=False)
    return fig


def cooccurrence_heatmap(matrix: pd.DataFrame) -> Figure:
    """Plot how many posts use each pair of hashtags, with the count in each cell.

    Args:
        matrix: Square table from :func:`igtrends.trends.hashtag_cooccurrence`.

    Raises:
        ValueError: The table is not square.
    """
    if matrix.shape[0] != matrix.shape[1] or matrix.empty:
        raise ValueError(f"co-occurrence matrix must be square and non-empty, got shape {matrix.shape}")
    labels = ["#" + str(tag) for tag in matrix.index]
    with report_style():
        size = max(5.0, 0.6 * len(matrix) + 2.5)
        fig, ax = _new_figure(figsize=(size + 1.5, size))
        sns.heatmap(matrix.to_numpy(), ax=ax, annot=True, fmt="d", cmap="mako_r", square=True,
                    xticklabels=labels, yticklabels=labels,
                    cbar_kws={"label": "posts with both hashtags"})
        ax.set_title(f"Hashtag co-occurrence of the {len(matrix)} most used hashtags")
        ax.set_xlabel("hashtag")
        ax.set_ylabel("hashtag")
        ax.grid(False)
    return fig


def weekly_activity_plot(weekly: pd.DataFrame, tz: str = "UTC") -> Figure:
    """Plot posts per week and mean likes per post per week, one panel each.

    Args:
        weekly: Table from :func:`igtrends.trends.weekly_activity`, indexed by week start.
        tz: Time zone of the weeks, stated on the time axis.

    Raises:
        ValueError: A column is missing or the table is empty.
    """
    _require_columns(weekly, ["posts", "likes_per_post"], "weekly")
    if weekly.empty:
        raise ValueError("weekly table is empty, so there is nothing to plot")
    weeks = weekly.index.tz_localize(None) if weekly.index.tz is not None else weekly.index

    with report_style():
        fig, (posts_ax, likes_ax) = _new_figure(2, 1, figsize=(11, 6.5), sharex=True)
        posts_ax.step(weeks, weekly["posts"].to_numpy(), where="post", color=PALETTE[0])
        posts_ax.set_title("Posts per week")
        posts_ax.set_ylabel("posts")
        likes_ax.plot(weeks, weekly["likes_per_post"].to_numpy(), marker="o", markersize=2,
                      linestyle="none" if len(weekly) > 60 else "-", color=PALETTE[1])
        likes_ax.set_title("Mean likes per post, by week")
        likes_ax.set_ylabel("likes per post")
        likes_ax.set_xlabel(f"week starting Monday 00:00 ({tz})")
        fig.suptitle(f"Volume and engagement over {len(weekly)} weeks ({tz})")
    return fig


# Model training and evaluation


def training_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    """Plot the loss per epoch and, in a second panel, every other metric.

    ``history`` is a Keras ``History.history`` dict. A key ``val_<name>`` is drawn in the
    same panel as ``<name>`` with a dashed line. The second panel is drawn only when
    there are metrics besides the loss.

    Raises:
        ValueError: ``loss`` is missing, or a metric has no values.
    """
    if "loss" not in history:
        raise ValueError(f"history has no 'loss' key. Its keys are {sorted(history)}.")
    empty = [key for key, values in history.items() if len(values) == 0]
    if empty:
        raise ValueError(f"history keys {empty} have no values")

    metric_names = [
        key for key in history
        if key != "loss" and not key.startswith("val_")
    ]
    # A validation metric whose training metric is absent still gets drawn.
    metric_names += [
        key for key in history
        if key.startswith("val_") and key != "val_loss" and key[4:] not in history
    ]

    with report_style():
        panels = 2 if metric_names else 1
        fig, axes = _new_figure(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
        loss_ax = axes[0][0]
        _plot_per_epoch(loss_ax, history, "loss", PALETTE[0])
        loss_ax.set_title("Loss per epoch")
        loss_ax.set_ylabel("loss")
        if panels == 2:
            metric_ax = axes[0][1]
            for index, name in enumerate(metric_names):
                _plot_per_epoch(metric_ax, history, name, PALETTE[(index + 1) % len(PALETTE)])
            metric_ax.set_title("Metrics per epoch")
            metric_ax.set_ylabel("metric value")
    return fig


def metrics_comparison(
    metrics: Mapping[str, Mapping[str, float]],
    keys: Sequence[str] = ("recall@10", "ndcg@10", "precision@10"),
) -> Figure:
    """Plot a grouped bar chart of ranking metrics, one group per metric and one bar per model.

    Args:
        metrics: Metric values by model name, e.g. ``{"two_tower": {"recall@10": 0.21}}``.
        keys: Metrics to show, in this order.

    Raises:
        ValueError: ``metrics`` or ``keys`` is empty, or a model lacks one of ``keys``.
    """
    if not metrics:
        raise ValueError("metrics is empty. Pass at least one model's metrics.")
    if not keys:
        raise ValueError("keys is empty. Pass at least one metric name.")
    for model, values in metrics.items():
        absent = [key for key in keys if key not in values]
        if absent:
            raise ValueError(
                f"model {model!r} has no value for {absent}. Its metrics are {sorted(values)}."
            )

    models = list(metrics)
    positions = np.arange(len(keys))
    width = 0.8 / len(models)

    with report_style():
        fig, ax = _new_figure(figsize=(max(6.0, 2.2 * len(keys) + 2.0), 4.5))
        for index, model in enumerate(models):
            offsets = positions - 0.4 + width * (index + 0.5)
            heights = [float(metrics[model][key]) for key in keys]
            bars = ax.bar(offsets, heights, width, label=model,
                          color=PALETTE[index % len(PALETTE)])
            ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=_TICK_SIZE - 1)
        ax.set_xticks(positions, list(keys))
        ax.set_title("Ranking metrics by model")
        ax.set_xlabel("metric")
        ax.set_ylabel("value (0 to 1)")
        ax.margins(y=0.15)
        ax.legend(title="model")
        ax.grid(axis="x", visible=False)
    return fig


# Interaction data sets such as MovieLens


def ratings_long_tail(interactions: pd.DataFrame, user_col: str, item_col: str) -> Figure:
    """Plot how interactions spread over items and users.

    The left panel shows the number of interactions of each item, sorted from the most
    popular item down, on a log y axis (the long tail). The right panel is a histogram
    of the number of interactions per user.

    Args:
        interactions: One row per interaction, such as a rating or a like.
        user_col: Column with the user id.
        item_col: Column with the item id.

    Raises:
        ValueError: A column is missing or the table is empty.
    """
    _require_columns(interactions, [user_col, item_col], "interactions")
    if interactions.empty:
        raise ValueError("interactions table is empty, so there is nothing to plot")

    per_item = interactions[item_col].value_counts().sort_values(ascending=False)
    per_user = interactions[user_col].value_counts()

    with report_style():
        fig, (item_ax, user_ax) = _new_figure(1, 2, figsize=(12, 4.5))
        ranks = np.arange(1, len(per_item) + 1)
        item_ax.plot(ranks, per_item.to_numpy(), color=PALETTE[0])
        item_ax.fill_between(ranks, per_item.to_numpy(), alpha=0.3, color=PALETTE[0])
        item_ax.set_yscale("log")
        item_ax.set_title(f"Interactions per item ({len(per_item)} items)")
        item_ax.set_xlabel("item rank (most interactions first)")
        item_ax.set_ylabel("interactions (log scale)")

        user_ax.hist(per_user.to_numpy(), bins=min(50, max(1, per_user.nunique())),
                     color=PALETTE[1])
        user_ax.set_title(f"Interactions per user ({len(per_user)} users)")
        user_ax.set_xlabel("interactions per user")
        user_ax.set_ylabel("users")
    return fig


def genre_bar(items: pd.DataFrame) -> Figure:
    """Plot the number of items in each ``genre_*`` column, most common genre first.

    An item can have several genres, so the bars can sum to more than the item count.

    Raises:
        ValueError: ``items`` has no ``genre_*`` columns.
    """
    genre_columns = [name for name in items.columns if str(name).startswith("genre_")]
    if not genre_columns:
        raise ValueError(
            "items has no genre_* columns. Pass the items table returned by load_movielens."
        )
    counts = (
        items[genre_columns].astype("boolean").fillna(False).sum()
        .astype(int)
        .rename(lambda name: name.removeprefix("genre_"))
        .sort_values(ascending=False, kind="stable")
    )

    with report_style():
        fig, ax = _new_figure(figsize=(8, max(3.0, 0.35 * len(counts) + 1.5)))
        bars = ax.barh(list(counts.index), counts.to_numpy(), color=PALETTE[2])
        ax.bar_label(bars, padding=3)
        ax.invert_yaxis()
        ax.set_title(f"Items per genre ({len(items)} items, several genres each possible)")
        ax.set_xlabel("items")
        ax.set_ylabel("genre")
        ax.margins(x=0.1)
        ax.grid(axis="y", visible=False)
    return fig


# Helpers


def _require_columns(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    absent = [name for name in columns if name not in df.columns]
    if absent:
        raise ValueError(
            f"{table} table is missing column(s) {absent}. Its columns are {list(df.columns)}."
        )


def _is_numeric_or_bool(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], squeeze: bool = True,
    sharex: bool = False,
) -> tuple[Figure, Any]:
    """Create a figure outside pyplot with constrained layout and report-sized tick labels.

    Tick labels are created when the figure is drawn, possibly after
    :func:`report_style` has ended, so their size is set on the axes here.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, sharex=sharex)
    for ax in np.atleast_1d(axes).ravel():
        ax.tick_params(labelsize=_TICK_SIZE)
    return fig, axes


def _log_bins(values: pd.Series, bins: int) -> np.ndarray:
    """Return ``bins + 1`` log-spaced edges that cover the positive ``values``."""
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low / 2.0, high * 2.0
    return np.geomspace(low, high, bins + 1)


def _plot_per_epoch(ax: Axes, history: Mapping[str, Sequence[float]], name: str,
                    color: tuple[float, float, float]) -> None:
    """Draw ``name`` and, when present, ``val_<name>`` against the 1-based epoch."""
    train = list(history[name])
    ax.plot(range(1, len(train) + 1), train, marker="o", markersize=3, color=color, label=name)
    validation_name = f"val_{name}"
    if validation_name in history and not name.startswith("val_"):
        validation = list(history[validation_name])
        ax.plot(range(1, len(validation) + 1), validation, linestyle="--", marker="o",
                markersize=3, color=color, label=validation_name)
    ax.set_xlabel("epoch")
    ax.legend()
