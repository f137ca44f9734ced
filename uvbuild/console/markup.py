"""Text for the terminal: escape sequences and control characters stripped, rich markup
escaped, and a message line as rich prints it on a pipe (written there without rich)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


# ANSI escape sequences, and every control character but tab and newline.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """``text`` without escape sequences or control characters (tab and newline stay)."""
    return _CONTROL.sub("", text)


def escape(markup: str) -> str:
    """rich's ``escape``: ``markup`` as literal text in rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(markup)


# What rich would change in a message line beyond stripping its markup: tabs (expanded by
# cell width), backslashes (its escaping keeps a trailing one doubled) and `:name:` (an
# emoji code). A line with none of them prints on a pipe as its text, unchanged.
_RICH_SPECIAL = re.compile(r"[\t\\]|:\S*:")


def plain_line(text: str) -> str | None:
    """The line rich prints on a pipe for the markup ``escape(text)`` (after a plain
    prefix), when that is ``text`` itself; None when rich must say."""
    return None if _RICH_SPECIAL.search(text) else plain(text)


# A tag of rich markup (uvbuild's own prefixes: ``[bold cyan]``, ``[/]``).
MARKUP_TAG = re.compile(r"\[[a-z#/@][^\[]*?\]")


def show(console: Console, markup: str, style: str | None = None) -> None:
    """Print ``markup`` styled on a terminal; on a pipe, where no style would reach anyway,
    as plain text, so no control character does either."""
    from rich.text import Text

    if console.is_terminal:
        console.print(markup, style=style)
    else:
        console.print(Text(plain(Text.from_markup(markup).plain)))
