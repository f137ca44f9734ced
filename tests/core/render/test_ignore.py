"""uvbuild.core.render.ignore: the .dockerignore of a generated build."""

from __future__ import annotations

from uvbuild.core.render import ignore


def test_dockerignore_user_rules_then_defaults():
    text = ignore.dockerignore("node_modules\n*.log\n")
    lines = text.splitlines()
    assert lines[:3] == ["node_modules", "*.log", "# added by uvbuild"]
    assert lines[3:] == list(ignore.DEFAULT_IGNORES)
    assert ".venv" in lines
    assert text.endswith("\n")


def test_dockerignore_without_user_rules():
    assert ignore.dockerignore(None).splitlines() == ["# added by uvbuild", *ignore.DEFAULT_IGNORES]
    assert ignore.dockerignore("") == ignore.dockerignore(None)
