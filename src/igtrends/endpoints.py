"""The catalogue of data API endpoints, kept as data.

Each :class:`Endpoint` records the HTTP method, the path, the parameters it accepts,
where the result list sits in the JSON response and how pagination works. Paths and
parameter names are configuration: when the API provider renames one, the fix is one
line in :data:`ENDPOINTS`.

The paths follow the "Instagram Scraper Stable API" sold through RapidAPI. Only the
search, likers, comments and user posts calls were seen in working client code. The
other paths and response shapes are assumptions, each marked where it is defined. To
change an endpoint for one session without editing this file, replace its entry:
``ENDPOINTS["followers"] = dataclasses.replace(ENDPOINTS["followers"], path="/new.php")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igtrends.errors import ConfigurationError

__all__ = ["API_HOST", "BASE_URL", "ENDPOINTS", "Endpoint", "get_endpoint"]

API_HOST = "instagram-scraper-stable-api.p.rapidapi.com"
BASE_URL = f"https://{API_HOST}"


@dataclass(frozen=True)
class Endpoint:
    """One call of the data API.

    Attributes:
        name: Short name used in code and as the raw-store folder name.
        method: ``"GET"`` (parameters in the query string) or ``"POST"`` (form body).
        path: URL path below the base URL, starting with ``/``.
        params: Names of the parameters the endpoint accepts, including the cursor.
        items_path: Keys that lead from the response object to the list of items.
            An empty tuple means the whole response object is the single item.
        cursor_path: Keys that lead to the next-page cursor in the response, or
            ``None`` when the endpoint is not paginated.
        cursor_param: Request parameter that sends the cursor back, or ``None``.
        has_more_path: Keys that lead to a boolean saying whether another page
            exists, or ``None``. When the response has that key, ``False`` ends the
            paging even if a cursor is present, and ``True`` without a cursor ends it
            with a warning. When the key is absent, the cursor alone decides.
        id_path: Keys that lead from one item to its unique id, used to drop items
            repeated across pages.
        defaults: Parameters sent with every request unless the caller overrides them,
            as ``(name, value)`` pairs.
        required_keys: Keys the response object must contain when ``items_path`` is
            empty, so that an error object is not mistaken for a result.
    """

    name: str
    method: str
    path: str
    params: tuple[str, ...]
    items_path: tuple[str, ...]
    cursor_path: tuple[str, ...] | None = None
    cursor_param: str | None = None
    has_more_path: tuple[str, ...] | None = None
    id_path: tuple[str, ...] = ("pk",)
    defaults: tuple[tuple[str, str], ...] = ()
    required_keys: tuple[str, ...] = ()

    @property
    def paginated(self) -> bool:
        """Whether the endpoint returns a cursor to the next page."""
        return self.cursor_path is not None and self.cursor_param is not None

    def request_params(self, params: dict[str, Any]) -> dict[str, str]:
        """Build the parameters of one request: defaults first, then ``params``.

        Values are converted to strings, because both query strings and form bodies
        carry strings, and so that ``post_id=1`` and ``post_id="1"`` are the same
        request. Parameters whose value is ``None`` are left out.

        Raises:
            ConfigurationError: If a parameter is not one the endpoint accepts.
        """
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ConfigurationError(
                f"endpoint {self.name!r} does not accept parameter(s) {unknown}; "
                f"accepted parameters are {list(self.params)}"
            )
        merged: dict[str, str] = dict(self.defaults)
        for key, value in params.items():
            if value is not None:
                merged[key] = str(value)
        return merged


ENDPOINTS: dict[str, Endpoint] = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint(
            name="search_users",
            method="POST",
            path="/search_ig.php",
            params=("search_query",),
            items_path=("users",),
            id_path=("user", "id"),
        ),
        Endpoint(
            name="search_hashtags",
            method="GET",
            path="/search_hashtag.php",
            params=("hashtag",),
            items_path=("hashtags",),
            id_path=("id",),
        ),
        # NOTE: the profile path and its flat response shape are assumptions, because
        # no working client code or recorded response for this call was available.
        Endpoint(
            name="user_info",
            method="POST",
            path="/ig_get_fb_profile.php",
            params=("username_or_url",),
            items_path=(),
            required_keys=("pk", "username"),
        ),
        Endpoint(
            name="user_posts",
            method="POST",
            path="/get_ig_user_posts.php",
            params=("username_or_url", "pagination_token"),
            items_path=("posts",),
            cursor_path=("pagination_token",),
            cursor_param="pagination_token",
            has_more_path=("has_more",),
            id_path=("node", "pk"),
        ),
        # NOTE: the post details path, its parameters and its flat response shape (one
        # media object like a user-posts node) are assumptions.
        Endpoint(
            name="post_details",
            method="GET",
            path="/get_media_data.php",
            params=("reel_post_code_or_url", "type"),
            items_path=(),
            defaults=(("type", "post"),),
            required_keys=("pk", "taken_at"),
        ),
        Endpoint(
            name="post_likers",
            method="GET",
            path="/get_post_likers.php",
            params=("post_id",),
            items_path=("users",),
        ),
        Endpoint(
            name="post_comments",
            method="GET",
            path="/get_post_comments.php",
            params=("post_id", "sort_order", "pagination_token"),
            items_path=("comments",),
            cursor_path=("pagination_token",),
            cursor_param="pagination_token",
            has_more_path=("has_more",),
            defaults=(("sort_order", "popular"),),
        ),
        # NOTE: the paths of the four endpoints below are assumptions, and their
        # responses are assumed to have the shapes of user posts ({"posts": [{"node":
        # ...}]}) and of likers ({"users": [...]}) with the same cursor field.
        Endpoint(
            name="hashtag_posts",
            method="GET",
            path="/get_hashtag_posts.php",
            params=("hashtag", "pagination_token"),
            items_path=("posts",),
            cursor_path=("pagination_token",),
            cursor_param="pagination_token",
            has_more_path=("has_more",),
            id_path=("node", "pk"),
        ),
        Endpoint(
            name="followers",
            method="POST",
            path="/get_ig_user_followers.php",
            params=("username_or_url", "pagination_token"),
            items_path=("users",),
            cursor_path=("pagination_token",),
            cursor_param="pagination_token",
            has_more_path=("has_more",),
        ),
        Endpoint(
            name="followings",
            method="POST",
            path="/get_ig_user_followings.php",
            params=("username_or_url", "pagination_token"),
            items_path=("users",),
            cursor_path=("pagination_token",),
            cursor_param="pagination_token",
            has_more_path=("has_more",),
        ),
        Endpoint(
            name="similar_accounts",
            method="POST",
            path="/get_ig_similar_accounts.php",
            params=("username_or_url",),
            items_path=("users",),
        ),
    )
}


def get_endpoint(endpoint: str | Endpoint) -> Endpoint:
    """Look up an endpoint by name, or return an :class:`Endpoint` unchanged.

    Raises:
        ConfigurationError: If no endpoint has that name.
    """
    if isinstance(endpoint, Endpoint):
        return endpoint
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        raise ConfigurationError(
            f"unknown endpoint {endpoint!r}; known endpoints are {sorted(ENDPOINTS)}"
        ) from None
