"""``igtrends recommend``: top-k items for a known user or a new user described by features."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from igtrends.errors import FeatureInputError


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``recommend`` subparser to ``commands``."""
    parser = commands.add_parser(
        "recommend",
        help="recommend items from a saved model for a known user or a new user's features",
        description=(
            "Load a model folder written by the training notebook (for example "
            "runs/latest/two_tower) and print the top K items. Items the user engaged "
            "with in training, or listed with --engaged, are left out unless "
            "--include-engaged is given."
        ),
    )
    parser.add_argument("--model", type=Path, required=True, metavar="DIR", help="saved model folder")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", metavar="ID", help="id of a user the model was trained on")
    target.add_argument(
        "--features",
        metavar="JSON",
        help="a new user's features as a JSON object, e.g. '{\"is_verified\": false, \"follower_count\": 1200}'",
    )
    target.add_argument("--features-file", type=Path, metavar="FILE", help="a JSON file with a new user's features")
    parser.add_argument(
        "--engaged",
        nargs="+",
        default=[],
        metavar="ITEM_ID",
        help="item ids a new user engaged with (used with --features or --features-file)",
    )
    parser.add_argument("--k", type=int, default=5, metavar="K", help="number of items (default: %(default)s)")
    parser.add_argument(
        "--include-engaged", action="store_true", help="keep items the user already engaged with"
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON instead of a table")
    parser.set_defaults(handler=_recommend_command)


def _recommend_command(args: argparse.Namespace) -> int:
    from igtrends.recommend import Recommender, parse_features

    if args.k < 1:
        raise FeatureInputError(f"--k {args.k} must be at least 1")
    if args.user is not None and args.engaged:
        raise FeatureInputError(
            "--engaged describes a new user; a known user's engaged items come from the model"
        )
    recommender = Recommender.load(args.model)
    if args.user is not None:
        table = recommender.recommend(args.user, args.k, include_engaged=args.include_engaged)
        heading = f"Top {args.k} for user {args.user}"
    else:
        features = parse_features(args.features, args.features_file)
        table = recommender.recommend_new_user(
            features, args.engaged, args.k, include_engaged=args.include_engaged
        )
        heading = f"Top {args.k} for a new user with features {json.dumps(features)}"
    if args.json:
        print(table.to_json(orient="records"))
    else:
        print(f"{heading}:")
        print(table.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    return 0
