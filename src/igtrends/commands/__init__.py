"""Subcommands of the ``igtrends`` command line beyond ``run``.

Each module here has ``register(commands)``, which adds one subparser to the
``argparse`` subparsers object and sets its ``handler``. :mod:`igtrends.cli` lists the
modules in ``COMMAND_MODULES``.
"""
