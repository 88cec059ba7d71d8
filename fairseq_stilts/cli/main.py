"""What every stilts-* command shares: its parser (help texts show defaults; the plugin, and with
it fairseq and torch, is loaded only once the arguments are parsed), output that appears as it
happens, and user errors as one line on stderr with exit code 2.

Keep a command module's own imports light (argparse, pathlib, this module): it imports what it
runs with inside its ``main``, after parsing."""

from __future__ import annotations

import argparse
import functools
import io
import sys
from collections.abc import Callable

from fairseq_stilts.errors import StiltsError, os_error_line


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default; the description keeps its line breaks."""


class ArgumentParser(argparse.ArgumentParser):
    """Registers the plugin with fairseq once the arguments are parsed."""

    def parse_known_args(self, args=None, namespace=None):
        parsed = super().parse_known_args(args, namespace)
        from fairseq_stilts.plugin import register

        register()
        return parsed


def argument_parser(
    prog: str, description: str | None, plugin: bool = True
) -> argparse.ArgumentParser:
    """The command's parser; ``plugin=False`` for a command that never needs fairseq."""
    parser_class = ArgumentParser if plugin else argparse.ArgumentParser
    return parser_class(prog=prog, description=description, formatter_class=HelpFormatter)


class LanguageList(argparse.Action):
    """Languages as fairseq writes them, ``en,de,fr``, or space-separated: both are accepted."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        values = [values] if isinstance(values, str) else values
        languages = [lang for value in values for lang in value.split(",") if lang]
        if not languages:
            parser.error(f"{option_string}: name at least one language")
        setattr(namespace, self.dest, languages)


def cli(main: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> None:
        # Lines reach a pipe (`stilts-demo | tee log`) as they are printed.
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(line_buffering=True)
        try:
            main(argv)
        except StiltsError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except OSError as err:  # a file that cannot be read or written
            print(f"error: {os_error_line(err)}", file=sys.stderr)
            sys.exit(2)

    return wrapper
