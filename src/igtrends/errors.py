"""Exceptions raised by igtrends.

Every error says what failed, on which value, and what to do next.
"""

from __future__ import annotations


class IgtrendsError(Exception):
    """Base class of every error raised by igtrends."""


class ConfigurationError(IgtrendsError):
    """A setting, parameter or environment variable is missing or invalid."""


class MissingAPIKeyError(ConfigurationError):
    """The data API key is not set."""


class CountParseError(IgtrendsError, ValueError):
    """A display count such as "27M followers" could not be read."""


class APIError(IgtrendsError):
    """A request to the data API failed or returned something that is not data.

    Attributes hold the endpoint, the request parameters (never the key), the HTTP
    status, the content type and the first bytes of the body.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        params: dict | None = None,
        status: int | None = None,
        content_type: str | None = None,
        body_start: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.params = dict(params or {})
        self.status = status
        self.content_type = content_type
        self.body_start = body_start
        details = [f"endpoint={endpoint!r}", f"params={self.params!r}"]
        if status is not None:
            details.append(f"status={status}")
        if content_type is not None:
            details.append(f"content_type={content_type!r}")
        if body_start is not None:
            details.append(f"body starts {body_start!r}")
        super().__init__(f"{message} ({', '.join(details)})")


class ResponseFormatError(APIError):
    """A response arrived but is not the JSON shape the endpoint should return."""


class ReplayMissError(APIError):
    """The replay transport has no recorded response for a request."""


class SchemaError(IgtrendsError):
    """A table does not match its schema."""


class DatasetError(IgtrendsError):
    """A data set is missing, incomplete or fails its checksum."""


class NotebookExecutionError(IgtrendsError):
    """A pipeline notebook raised in one of its cells."""

    def __init__(self, notebook: str, cell_index: int | None, ename: str, evalue: str) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        where = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        super().__init__(
            f"notebook {notebook} failed in {where}: {ename}: {evalue}. "
            "The executed copy with the traceback is in the run folder."
        )


class CallLimitError(IgtrendsError):
    """A crawl reached its maximum number of API calls."""


class RetryError(APIError):
    """A request still failed after every retry, or the server asked for a longer wait.

    ``attempts`` is how many times the request was sent.
    """

    def __init__(self, message: str, *, attempts: int, **details) -> None:
        self.attempts = attempts
        super().__init__(message, **details)


class InsufficientDataError(DatasetError):
    """A data set lacks the columns or rows that an analysis or figure needs.

    The message names what is missing, so a caller can skip the figure and show why.
    """


class ArtifactError(IgtrendsError):
    """A saved model folder is missing a file or was written by an incompatible version."""


class UnknownIdError(IgtrendsError, LookupError):
    """A user or item id is not in the saved model's vocabulary."""


class FeatureInputError(IgtrendsError, ValueError):
    """Features given for a new user are not valid JSON, name an unknown feature or have a bad value."""
