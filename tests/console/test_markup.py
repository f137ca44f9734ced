"""uvbuild.console.markup: plain text, and a message line on a pipe as rich prints it."""

from __future__ import annotations

import io

from rich.console import Console

from uvbuild.console.markup import plain


def test_plain_strips_escapes_and_controls():
    assert plain("a\x1b[31mred\x1b[0m\r\tb\x07\x1b]0;title\x07c") == "ared\tb0;titlec"
    assert plain("nothing to do") == "nothing to do"


def test_messages_on_a_pipe_are_what_rich_prints(capsys):
    """A message line on a pipe is written without rich when rich would print its text
    unchanged (plain_line); random texts of markup-like characters print as rich does."""
    import random

    from rich.markup import escape

    from uvbuild.console import markup

    rng = random.Random(12)
    alphabet = [*"ab [ ]/\\:#@=-_.x\n", "[bold]", "[/]", "中", ":smile:", "\t", "é"]
    alphabet += ["\x1b[31m", "\r"]
    taken = 0
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for prefix in ("", "[bold cyan]==>[/] ", "[yellow]warning:[/] ", "[bold red]error:[/] "):
            line = markup.plain_line(text)
            if line is None:
                continue
            taken += 1
            buffer = io.StringIO()
            rich = Console(file=buffer, highlight=False, emoji=False, soft_wrap=True)
            markup.show(rich, prefix + escape(text))
            assert markup.MARKUP_TAG.sub("", prefix) + line + "\n" == buffer.getvalue()
    assert taken > 1000
