"""``igtrends collect``: crawl the data API into a raw store and build the tables.

The crawl plan is :func:`igtrends.collect.crawl`. Every response is stored before the
next request, so the command can be stopped or killed at any point and run again with
the same options. It then fetches only what is not stored yet, and a second complete
run sends no request at all.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from igtrends.client import Client, HTTPTransport, RawStore, read_api_key
from igtrends.collect import NEIGHBOUR_ENDPOINTS, CrawlSeeds, build_tables, crawl
from igtrends.endpoints import BASE_URL
from igtrends.errors import ConfigurationError
from igtrends.log import get_logger
from igtrends.tables import write_tables

log = get_logger("commands.collect")

EXIT_REQUESTS_FAILED = 1
# NOTE: the API plans' rate limits were not available, so 2 requests per second is a
# conservative guess. A 429 reply is retried after its Retry-After in any case.
DEFAULT_REQUESTS_PER_SECOND = 2.0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``collect`` subparser to ``commands``."""
    parser = commands.add_parser(
        "collect",
        help="crawl the data API from seed queries, hashtags and usernames, then build the tables",
        description=(
            "Crawl the Instagram data API: search the queries, fetch the posts of the "
            "hashtags, then the profile and posts of every account found, the likers and "
            "comments of every post and the profiles of those users. Every response is "
            "stored in RAW_DIR and never fetched again unless --refresh is given, so an "
            "interrupted crawl resumes when run again. The tables are then built from "
            "every response in RAW_DIR and written to TABLES_DIR as Parquet. The API key "
            "is read from RAPIDAPI_KEY or, when that is not set, from the --env-file file. "
            "Exit status: 0 when every request succeeded, 1 when some failed (the tables "
            "are still written; run again to retry them) or on an error, 2 on invalid usage."
        ),
    )
    seeds = parser.add_argument_group("seeds (repeat each option for several values)")
    seeds.add_argument("--query", action="append", default=[], metavar="TEXT",
                       help="search query; every account it returns is crawled")  # fmt: skip
    seeds.add_argument("--hashtag", action="append", default=[], metavar="TAG",
                       help="hashtag with or without '#'; the owner of every post it returns is crawled")  # fmt: skip
    seeds.add_argument("--username", action="append", default=[], metavar="NAME",
                       help="account to crawl")  # fmt: skip

    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-calls", type=int, default=1000, metavar="N",
                        help="maximum paid requests in this run, retries not counted; "
                             "stored responses do not count (default: %(default)s)")  # fmt: skip
    limits.add_argument("--max-pages", type=int, default=5, metavar="N",
                        help="maximum pages per paginated request (default: %(default)s)")  # fmt: skip
    limits.add_argument("--requests-per-second", type=float, default=DEFAULT_REQUESTS_PER_SECOND,
                        metavar="R", help="maximum request rate, retries included (default: %(default)s)")  # fmt: skip
    limits.add_argument("--retries", type=int, default=4, metavar="N",
                        help="retries of a request after HTTP 429, a 5xx status or a timeout "
                             "(default: %(default)s)")  # fmt: skip
    limits.add_argument("--max-wait", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait before one retry; a longer Retry-After stops that "
                             "request with an error (default: %(default)s)")  # fmt: skip
    limits.add_argument("--neighbours", nargs="+", choices=NEIGHBOUR_ENDPOINTS, default=[],
                        metavar="ENDPOINT",
                        help=f"also fetch these related accounts of every account, out of "
                             f"{', '.join(NEIGHBOUR_ENDPOINTS)} (default: none)")  # fmt: skip

    places = parser.add_argument_group("files")
    places.add_argument("--raw-dir", type=Path, default=Path("data/raw/instagram"), metavar="DIR",
                        help="raw store of responses, one JSON file each (default: %(default)s)")  # fmt: skip
    places.add_argument("--tables-dir", type=Path, default=Path("data/processed/instagram"),
                        metavar="DIR", help="folder of the Parquet tables (default: %(default)s)")  # fmt: skip
    places.add_argument("--env-file", type=Path, default=Path(".env"), metavar="FILE",
                        help="file read for RAPIDAPI_KEY when the variable is not set "
                             "(default: %(default)s)")  # fmt: skip
    places.add_argument("--base-url", default=BASE_URL, metavar="URL",
                        help="scheme and host of the API (default: %(default)s)")  # fmt: skip

    parser.add_argument("--refresh", action="store_true",
                        help="fetch again responses stored by earlier runs")  # fmt: skip
    parser.add_argument("--quiet", action="store_true",
                        help="show warnings and errors only, without a progress bar")  # fmt: skip
    parser.set_defaults(handler=run_collect)


def _check_options(args: argparse.Namespace) -> None:
    if args.max_calls < 0:
        raise ConfigurationError(f"--max-calls must be 0 or more, got {args.max_calls}")
    if args.max_pages < 1:
        raise ConfigurationError(f"--max-pages must be at least 1, got {args.max_pages}")
    if not args.requests_per_second > 0:
        raise ConfigurationError(
            f"--requests-per-second must be a positive number, got {args.requests_per_second}"
        )
    if args.retries < 0 or args.max_wait < 0:
        raise ConfigurationError(
            f"--retries and --max-wait must not be negative, got {args.retries} and {args.max_wait}"
        )


def run_collect(args: argparse.Namespace) -> int:
    """Run the crawl the options describe, build the tables and print the summary.

    Returns:
        0 when every request succeeded, ``EXIT_REQUESTS_FAILED`` when some failed.

    Raises:
        ConfigurationError: If an option is invalid.
        MissingAPIKeyError: If seeds are given and no key is set; raised before any
            request.
    """
    _check_options(args)
    seeds = CrawlSeeds(
        queries=tuple(args.query),
        usernames=tuple(args.username),
        hashtags=tuple(tag.lstrip("#") for tag in args.hashtag),
    )
    raw_store = RawStore(args.raw_dir)
    failed = 0

    if seeds.queries or seeds.usernames or seeds.hashtags:
        transport = HTTPTransport(
            base_url=args.base_url,
            api_key=read_api_key(os.environ, dotenv_path=args.env_file),
            retries=args.retries,
            max_wait=args.max_wait,
            requests_per_second=args.requests_per_second,
        )
        try:
            client = Client(transport, raw_store, refresh=args.refresh)
            summary = crawl(
                client,
                seeds,
                max_pages=args.max_pages,
                max_calls=args.max_calls,
                neighbours=args.neighbours,
                progress=not args.quiet,
            )
        finally:
            transport.close()
        print(f"Crawl of {args.base_url} into {args.raw_dir}:")
        print(summary.format())
        failed = len(summary.errors)
    else:
        log.info("no seeds given, so no request is sent; building tables from %s", args.raw_dir)

    tables = build_tables(raw_store)
    written = write_tables(tables, args.tables_dir)
    print(f"\nTables in {args.tables_dir}:")
    for name, path in written.items():
        print(f"  {name}: {len(tables[name])} rows ({path.name})")

    if failed:
        print(
            f"\n{failed} request(s) failed; run the same command again to retry them "
            "(stored responses are not fetched again).",
        )
        return EXIT_REQUESTS_FAILED
    return 0
