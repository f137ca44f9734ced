"""The small JSON files kept between runs: never a reason for a run to fail."""

from __future__ import annotations

from uvbuild.docker import jsonfile


def test_a_missing_damaged_or_non_object_file_reads_as_empty(tmp_path):
    path = tmp_path / "kept.json"
    assert jsonfile.read(path) == {}
    path.write_text("{not json")
    assert jsonfile.read(path) == {}
    path.write_text("[1, 2]")
    assert jsonfile.read(path) == {}


def test_write_replaces_the_file_and_leaves_no_scratch(tmp_path):
    path = tmp_path / "deeper" / "kept.json"
    jsonfile.write(path, {"b": 1, "a": 2}, sort_keys=True)
    assert path.read_text() == '{"a": 2, "b": 1}'
    jsonfile.write(path, {"c": 3})
    assert jsonfile.read(path) == {"c": 3}
    assert [p.name for p in path.parent.iterdir()] == ["kept.json"]


def test_a_directory_that_cannot_be_made_keeps_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    jsonfile.write(blocker / "kept.json", {"a": 1})  # no error: the file only saves time
    assert jsonfile.read(blocker / "kept.json") == {}
