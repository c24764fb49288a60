"""Tests of the report figures on small hand-made tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from igtrends import plots  # noqa: E402


@pytest.fixture
def users() -> pd.DataFrame:
    """Six accounts in the tidy users schema, with <NA> in the nullable columns."""
    return pd.DataFrame(
        {
            "user_id": pd.array(["1", "2", "3", "4", "5", "6"], dtype="str"),
            "username": ["a", "b", "c", "d", "e", "f"],
            "is_verified": [True, False, False, True, False, False],
            "is_private": pd.array([False, True, None, False, False, True], dtype="boolean"),
            "follower_count": pd.array([10, 100, 1_000, None, 0, 10_000], dtype="Int64"),
            "following_count": pd.array([5, 50, 500, 7, None, 5_000], dtype="Int64"),
            "media_count": pd.array([1, 2, 3, 4, 5, 6], dtype="Int64"),
        }
    )


def bar_heights(ax) -> list[float]:
    return [float(patch.get_height()) for patch in ax.patches]


def bar_widths(ax) -> list[float]:
    return [float(patch.get_width()) for patch in ax.patches]


def tick_texts(ax, axis: str) -> list[str]:
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [label.get_text() for label in labels]


# follower_histogram


def test_follower_histogram_log_panel(users):
    fig = plots.follower_histogram(users, bins=4)
    assert isinstance(fig, Figure)
    log_ax, scaled_ax = fig.axes[:2]
    assert log_ax.get_xscale() == "log"
    # Positive counts are 10, 100, 1000 and 10000: one per decade, so four log bins
    # from 10 to 10000 contain one account each.
    heights = bar_heights(log_ax)
    assert heights == [1.0, 1.0, 1.0, 1.0]
    edges = [patch.get_x() for patch in log_ax.patches]
    assert edges == pytest.approx([10.0, 10**1.75, 10**2.5, 10**3.25])


def test_follower_histogram_scaled_panel(users):
    fig = plots.follower_histogram(users, bins=4)
    scaled_ax = fig.axes[1]
    # Min-max over 0, 10, 100, 1000, 10000 gives 0, 0.001, 0.01, 0.1 and 1.0, so four
    # values fall in [0, 0.25) and one in [0.75, 1].
    assert bar_heights(scaled_ax) == [4.0, 0.0, 0.0, 1.0]
    assert scaled_ax.get_xlim() == (0.0, 1.0)


def test_follower_histogram_reports_missing(users):
    fig = plots.follower_histogram(users)
    title = fig.get_suptitle()
    assert "5 accounts" in title
    assert "1 missing" in title
    annotations = [text.get_text() for text in fig.axes[0].texts]
    assert "1 accounts with 0 followers not shown" in annotations


def test_follower_histogram_constant_counts():
    users = pd.DataFrame({"follower_count": pd.array([50, 50, None], dtype="Int64")})
    fig = plots.follower_histogram(users, bins=5)
    scaled_ax = fig.axes[1]
    # Both values map to 0 instead of NaN, so the first bin contains both.
    assert bar_heights(scaled_ax) == [2.0, 0.0, 0.0, 0.0, 0.0]
    assert sum(bar_heights(fig.axes[0])) == 2.0


def test_follower_histogram_all_missing():
    users = pd.DataFrame({"follower_count": pd.array([None, None], dtype="Int64")})
    with pytest.raises(ValueError, match="all 2 rows are missing"):
        plots.follower_histogram(users)


def test_follower_histogram_display_strings():
    users = pd.DataFrame({"follower_count": ["27M followers", "1.2K"]})
    with pytest.raises(ValueError, match="follower_count must be numeric"):
        plots.follower_histogram(users)


# verified_bar


def test_verified_bar_counts(users):
    fig = plots.verified_bar(users)
    ax = fig.axes[0]
    # Two of the six accounts in the fixture are verified.
    assert tick_texts(ax, "x") == ["verified", "not verified"]
    assert bar_heights(ax) == [2.0, 4.0]
    labels = [text.get_text() for text in ax.texts]
    assert labels == ["2", "4"]


def test_verified_bar_unknown_bar():
    users = pd.DataFrame({"is_verified": pd.array([True, None, False, None, None], dtype="boolean")})
    ax = plots.verified_bar(users).axes[0]
    assert tick_texts(ax, "x") == ["verified", "not verified", "unknown"]
    assert bar_heights(ax) == [1.0, 1.0, 3.0]


# top_hashtags_bar


def test_top_hashtags_order_and_counts():
    hashtags = pd.DataFrame(
        {
            "post_id": ["p1", "p2", "p3", "p1", "p2", "p4", "p4", "p5", "p1"],
            "hashtag": ["news", "news", "news", "travel", "travel", "fashion", "fashion",
                        "gaming", "fashion"],
        }
    )
    fig = plots.top_hashtags_bar(hashtags, n=3)
    ax = fig.axes[0]
    # news: p1 p2 p3 = 3 posts. fashion: p4 (listed twice, counted once) and p1 = 2.
    # travel: p1 p2 = 2. gaming: p5 = 1 and falls outside the top 3.
    # fashion and travel tie, so they are ordered by name.
    assert tick_texts(ax, "y") == ["#news", "#fashion", "#travel"]
    assert bar_widths(ax) == [3.0, 2.0, 2.0]
    # The y axis is inverted, so the first bar is drawn at the top.
    assert ax.yaxis_inverted()


def test_top_hashtags_rejects_bad_n():
    hashtags = pd.DataFrame({"post_id": ["p1"], "hashtag": ["news"]})
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        plots.top_hashtags_bar(hashtags, n=0)


def test_top_hashtags_rejects_empty_table():
    hashtags = pd.DataFrame({"post_id": pd.Series([], dtype="str"),
                             "hashtag": pd.Series([], dtype="str")})
    with pytest.raises(ValueError, match="no rows"):
        plots.top_hashtags_bar(hashtags)


# correlation_heatmap


def heatmap_matrix(fig: Figure, size: int) -> np.ndarray:
    return np.asarray(fig.axes[0].collections[0].get_array()).reshape(size, size)


def test_heatmap_rank_correlation_one():
    # y = x cubed is a monotone transform of x, so Spearman correlation is exactly 1
    # although Pearson correlation is not. z reverses the order, so it gives -1.
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    df = pd.DataFrame({"x": x, "y": [value**3 for value in x], "z": [5, 4, 3, 2, 1],
                       "label": list("abcde")})
    fig = plots.correlation_heatmap(df)
    ax = fig.axes[0]
    assert tick_texts(ax, "x") == ["x", "y", "z"]
    matrix = heatmap_matrix(fig, 3)
    assert matrix[0, 1] == pytest.approx(1.0)
    assert matrix[1, 0] == pytest.approx(1.0)
    assert matrix[0, 2] == pytest.approx(-1.0)
    annotations = [text.get_text() for text in ax.texts]
    assert annotations[1] == "1.00"
    assert annotations[2] == "-1.00"


def test_heatmap_pearson_differs():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    df = pd.DataFrame({"x": x, "y": [value**3 for value in x]})
    matrix = heatmap_matrix(plots.correlation_heatmap(df, method="pearson"), 2)
    assert matrix[0, 1] < 0.99


def test_heatmap_nullable_columns(users):
    fig = plots.correlation_heatmap(users, columns=["follower_count", "following_count",
                                                     "is_private"])
    matrix = heatmap_matrix(fig, 3)
    # Rows with both counts present: users 1, 2, 3 and 6, whose follower and following
    # counts rise together, so their rank correlation is 1.
    assert matrix[0, 1] == pytest.approx(1.0)
    assert np.isfinite(matrix).all()


def test_heatmap_default_columns_include_bool(users):
    fig = plots.correlation_heatmap(users)
    names = tick_texts(fig.axes[0], "x")
    assert names == ["is_verified", "is_private", "follower_count", "following_count",
                     "media_count"]


def test_heatmap_missing_column(users):
    with pytest.raises(ValueError, match="like_count"):
        plots.correlation_heatmap(users, columns=["follower_count", "like_count"])


def test_heatmap_rejects_text_column(users):
    with pytest.raises(ValueError, match=r"\['username'\] are not numeric"):
        plots.correlation_heatmap(users, columns=["follower_count", "username"])


def test_heatmap_rejects_unknown_method(users):
    with pytest.raises(ValueError, match="'cosine'"):
        plots.correlation_heatmap(users, method="cosine")


# training_curves


def test_training_curves_panels():
    history = {
        "loss": [0.9, 0.6, 0.4],
        "val_loss": [1.0, 0.8, 0.7],
        "recall@10": [0.1, 0.2, 0.3],
        "val_recall@10": [0.05, 0.1, 0.15],
    }
    fig = plots.training_curves(history)
    loss_ax, metric_ax = fig.axes
    loss_lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert set(loss_lines) == {"loss", "val_loss"}
    assert list(loss_lines["loss"].get_xdata()) == [1, 2, 3]
    assert list(loss_lines["val_loss"].get_ydata()) == [1.0, 0.8, 0.7]
    metric_lines = {line.get_label(): line for line in metric_ax.get_lines()}
    assert set(metric_lines) == {"recall@10", "val_recall@10"}
    assert list(metric_lines["recall@10"].get_ydata()) == [0.1, 0.2, 0.3]
    assert loss_ax.get_xlabel() == "epoch"


def test_training_curves_loss_only():
    fig = plots.training_curves({"loss": [0.5, 0.4]})
    assert len(fig.axes) == 1
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["loss"]


def test_training_curves_missing_loss():
    with pytest.raises(ValueError, match="no 'loss' key"):
        plots.training_curves({"accuracy": [0.5]})


# metrics_comparison


def test_metrics_comparison_bars():
    metrics = {
        "two_tower": {"recall@10": 0.30, "ndcg@10": 0.20, "precision@10": 0.10},
        "popularity": {"recall@10": 0.25, "ndcg@10": 0.15, "precision@10": 0.08},
        "random": {"recall@10": 0.01, "ndcg@10": 0.005, "precision@10": 0.002},
    }
    fig = plots.metrics_comparison(metrics)
    ax = fig.axes[0]
    assert tick_texts(ax, "x") == ["recall@10", "ndcg@10", "precision@10"]
    # One container of bars per model, in the order of the dict.
    assert len(ax.containers) == 3
    assert [container.get_label() for container in ax.containers] == list(metrics)
    for container, model in zip(ax.containers, metrics):
        heights = [patch.get_height() for patch in container]
        assert heights == pytest.approx([metrics[model][key] for key in
                                         ("recall@10", "ndcg@10", "precision@10")])
    labels = [text.get_text() for text in ax.texts]
    assert labels[:3] == ["0.300", "0.200", "0.100"]


def test_metrics_comparison_missing_key():
    metrics = {"two_tower": {"recall@10": 0.3}}
    with pytest.raises(ValueError, match=r"'two_tower' has no value for \['ndcg@10'\]"):
        plots.metrics_comparison(metrics, keys=("recall@10", "ndcg@10"))


# ratings_long_tail


def test_ratings_long_tail_counts():
    interactions = pd.DataFrame(
        {
            "user": ["u1", "u1", "u1", "u2", "u2", "u3"],
            "item": ["a", "b", "c", "a", "b", "a"],
        }
    )
    fig = plots.ratings_long_tail(interactions, "user", "item")
    item_ax, user_ax = fig.axes
    line = item_ax.get_lines()[0]
    # Item a has 3 interactions, b has 2 and c has 1.
    assert list(line.get_xdata()) == [1, 2, 3]
    assert list(line.get_ydata()) == [3, 2, 1]
    assert item_ax.get_yscale() == "log"
    # Users have 3, 2 and 1 interactions, so the histogram counts three users.
    assert sum(bar_heights(user_ax)) == 3.0


def test_ratings_long_tail_missing_column():
    interactions = pd.DataFrame({"user": ["u1"], "item": ["a"]})
    with pytest.raises(ValueError, match="movie_id"):
        plots.ratings_long_tail(interactions, "user", "movie_id")


# genre_bar


def test_genre_bar_counts():
    items = pd.DataFrame(
        {
            "item_id": ["1", "2", "3"],
            "genre_action": [True, True, False],
            "genre_comedy": [False, True, True],
            "genre_sci_fi": [True, True, True],
            "genre_western": [False, False, False],
        }
    )
    ax = plots.genre_bar(items).axes[0]
    # Column sums: sci_fi 3, action 2, comedy 2, western 0. Ties keep column order.
    assert tick_texts(ax, "y") == ["sci_fi", "action", "comedy", "western"]
    assert bar_widths(ax) == [3.0, 2.0, 2.0, 0.0]


def test_genre_bar_without_genres():
    with pytest.raises(ValueError, match="no genre_\\* columns"):
        plots.genre_bar(pd.DataFrame({"item_id": ["1"]}))


# Missing columns, save_figure and style


@pytest.mark.parametrize(
    ("function", "column"),
    [
        (plots.follower_histogram, "follower_count"),
        (plots.verified_bar, "is_verified"),
        (plots.top_hashtags_bar, "hashtag"),
    ],
)
def test_missing_column_named(function, column):
    table = pd.DataFrame({"user_id": ["1"], "post_id": ["p1"]})
    with pytest.raises(ValueError, match=f"missing column\\(s\\) \\['{column}'\\]"):
        function(table)


def test_save_figure_writes_files(tmp_path, users):
    fig = plots.verified_bar(users)
    folder = tmp_path / "figures" / "eda"
    paths = plots.save_figure(fig, folder, "verified")
    assert paths == [folder / "verified.png", folder / "verified.svg"]
    for path in paths:
        assert path.stat().st_size > 0
    assert (folder / "verified.svg").read_text().lstrip().startswith("<?xml")
    with Image.open(folder / "verified.png") as image:
        dpi_x, dpi_y = image.info["dpi"]
    # PNG stores whole pixels per metre: 150 dpi is 5905.5 px/m, written as 5906,
    # which reads back as 150.012 dpi.
    assert dpi_x == pytest.approx(150, abs=0.05)
    assert dpi_y == pytest.approx(150, abs=0.05)


def test_save_figure_higher_dpi(tmp_path, users):
    paths = plots.save_figure(plots.verified_bar(users), tmp_path, "verified",
                              formats=("png",), dpi=300)
    with Image.open(paths[0]) as image:
        assert image.info["dpi"][0] == pytest.approx(300, abs=0.05)


def test_save_figure_closes_pyplot_figure(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    number = fig.number
    plots.save_figure(fig, tmp_path, "line", formats=("png",))
    assert not plt.fignum_exists(number)


def test_save_figure_rejects_bad_input(tmp_path, users):
    fig = plots.verified_bar(users)
    with pytest.raises(ValueError, match="'bmpx'"):
        plots.save_figure(fig, tmp_path, "verified", formats=("bmpx",))
    with pytest.raises(ValueError, match="plain file name"):
        plots.save_figure(fig, tmp_path, "sub/verified")
    assert list(tmp_path.iterdir()) == []


def test_figures_stay_out_of_pyplot(users):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.verified_bar(users)
    plots.follower_histogram(users)
    assert plt.get_fignums() == before


def test_report_style_fonts(users):
    ax = plots.verified_bar(users).axes[0]
    assert ax.title.get_fontsize() == 14
    assert ax.xaxis.label.get_fontsize() == 12
    ax.figure.canvas.draw()
    assert ax.get_xticklabels()[0].get_fontsize() == 10


# trend figures


def test_engagement_tier_plot_boxes():
    from igtrends import trends

    accounts = pd.DataFrame({
        "account_id": list("abcdefgh"),
        "follower_count": [100, 200, 300, 400, 500, 600, 700, 800],
        "engagement_rate": [0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01],
    })
    fig = plots.engagement_tier_plot(trends.engagement_by_tier(accounts))
    scatter_ax, box_ax = fig.axes[:2]
    assert scatter_ax.get_xscale() == "log"
    # Four quartile tiers, so four boxes with the range of each tier as its label.
    assert tick_texts(box_ax, "x") == ["100–275", "275–450", "450–625", "625–800"]
    assert "%" in box_ax.get_ylabel()


def test_hashtag_engagement_bar_min_posts():
    from igtrends.errors import InsufficientDataError

    stats = pd.DataFrame({"hashtag": ["a", "b", "c"], "posts": [3, 5, 1],
                          "mean_likes": pd.array([40.0, 10.0, 900.0], dtype="Float64")})
    fig = plots.hashtag_engagement_bar(stats, min_posts=3)
    ax = fig.axes[0]
    # "c" has one post, below min_posts; "a" has more mean likes than "b".
    assert tick_texts(ax, "y") == ["#a", "#b"]
    assert bar_widths(ax) == [40.0, 10.0]
    with pytest.raises(InsufficientDataError):
        plots.hashtag_engagement_bar(stats, min_posts=10)


def test_weekly_activity_plot_states_zone(tmp_path):
    index = pd.date_range("2024-01-01", periods=3, freq="W-MON", tz="UTC")
    weekly = pd.DataFrame({"posts": [2, 0, 1], "likes_per_post": [15.0, np.nan, 6.0]}, index=index)
    fig = plots.weekly_activity_plot(weekly, tz="UTC")
    assert "UTC" in fig.axes[1].get_xlabel()
    paths = plots.save_figure(fig, tmp_path, "weekly")
    with Image.open(paths[0]) as image:
        assert image.info["dpi"][0] == pytest.approx(150, abs=1)


def test_cooccurrence_heatmap_labels():
    matrix = pd.DataFrame([[3, 2], [2, 2]], index=["ai", "ml"], columns=["ai", "ml"])
    fig = plots.cooccurrence_heatmap(matrix)
    assert tick_texts(fig.axes[0], "y") == ["#ai", "#ml"]


def test_alt_text_names_title_and_axes():
    fig = plots.training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    ax = fig.axes[0]
    expected = f"Panel {ax.get_title()}: horizontal axis {ax.get_xlabel()}, vertical axis {ax.get_ylabel()}."
    assert plots.alt_text(fig) == expected
    fig.suptitle("Training")
    assert plots.alt_text(fig) == f"Chart: Training. {expected}"


def test_alt_text_of_unlabelled_figure():
    fig = Figure()
    fig.add_subplot()
    assert plots.alt_text(fig) == "Chart without a title."
