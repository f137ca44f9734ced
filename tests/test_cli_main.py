"""``cli.main()``, the one place where errors become a line and an exit code: the line
shows damaged input escaped, never as the terminal would act on it."""

from __future__ import annotations

import pytest

from tests.clirun import assert_one_error_line, run_main
from uvbuild.cli import printable


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("plain text, unicode é and ü", "plain text, unicode é and ü"),
        ("a\u202eb", "a\\u202eb"),
        ("one\ntwo\rthree\tfour", "one\\ntwo\\rthree\\tfour"),
        ("nul\0bell\a esc\x1b[31m", "nul\\x00bell\\x07 esc\\x1b[31m"),
        ("zero\u200bwidth, isolate\u2066x\u2069", "zero\\u200bwidth, isolate\\u2066x\\u2069"),
    ],
)
def test_printable_escapes_what_a_terminal_would_not_print(message, shown):
    assert printable(message) == shown


def test_an_error_quoting_a_bidi_override_and_a_newline_stays_one_visible_line(tmp_path, capsys):
    missing = tmp_path / "evil\u202etxt.gnp\nsecond line"
    got, out, err = run_main(capsys, "plan", str(missing))
    assert got == 2
    line = assert_one_error_line(out, err, "no such directory", "evil\\u202etxt.gnp\\nsecond")
    assert "\u202e" not in line
