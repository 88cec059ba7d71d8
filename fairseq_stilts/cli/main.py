"""What every stilts-* command shares: user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from fairseq_stilts.errors import StiltsError


def cli(main: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> None:
        try:
            main(argv)
        except StiltsError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
