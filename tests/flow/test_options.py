"""uvbuild.flow.options: the docker flags as BuildOptions (outputs, build contexts, --call)."""

from __future__ import annotations

import pytest

from uvbuild.errors import ConfigError
from uvbuild.flow.options import BuildOptions

# -- the docker buildx build flags of Makefiles and CI (issue 9, item 3) -------------------


def test_registry_output_counts_as_push():
    assert BuildOptions(outputs=("type=registry",)).pushes
    assert BuildOptions(outputs=("type=image,name=r/a,push=true",)).pushes
    assert not BuildOptions(outputs=("type=image",)).pushes
    assert not BuildOptions(outputs=("type=docker,dest=a.tar",)).pushes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("out", "type=local,dest=out"),
        ("type=docker,dest=a.tar", "type=docker,dest=a.tar"),
        ("type=oci,dest=a.tar", "type=oci,dest=a.tar"),
        ("type=tar,dest=a.tar", "type=tar,dest=a.tar"),
        ("type=local,dest=d", "type=local,dest=d"),
        ("type=image,name=r/a,push=true", "type=image,name=r/a,push=true"),
        ("type=registry", "type=registry"),
    ],
)
def test_normalize_output_takes_every_buildx_exporter(value, expected):
    from uvbuild.flow.options import normalize_output

    assert normalize_output(value) == expected


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("-", "stdout"),
        ("type=tar,dest=-", "stdout"),
        ("type=zip,dest=a", "unknown exporter type 'zip'"),
        ("dest=a", "no type= given"),
    ],
)
def test_normalize_output_refuses_with_one_line(value, needle):
    from uvbuild.flow.options import normalize_output

    with pytest.raises(ConfigError, match=needle) as info:
        normalize_output(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["uvbuild-base", "uvbuild-heavy", "UVBUILD-deps"])
def test_user_contexts_refuse_uvbuild_names(name):
    from uvbuild.flow.options import user_contexts

    with pytest.raises(ConfigError, match=f"--build-context {name}: names starting with"):
        user_contexts([f"{name}=/x"])
    assert user_contexts(["assets=/srv/a", "img=docker-image://alpine"]) == (
        ("assets", "/srv/a"),
        ("img", "docker-image://alpine"),
    )
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        user_contexts(["assets"])


def test_user_contexts_make_local_directories_absolute(tmp_path, monkeypatch):
    from uvbuild.flow.options import user_contexts

    (tmp_path / "assets").mkdir()
    monkeypatch.chdir(tmp_path)
    assert user_contexts(["a=assets", "b=https://example.com/x.git"]) == (
        ("a", str(tmp_path / "assets")),
        ("b", "https://example.com/x.git"),
    )


def test_normalize_call():
    from uvbuild.flow.options import normalize_call

    assert normalize_call(None, False) is None
    assert normalize_call("build", False) is None
    assert normalize_call(None, True) == "check"
    assert normalize_call("outline", False) == "outline"
    with pytest.raises(ConfigError, match="--call nope: use one of"):
        normalize_call("nope", False)
    with pytest.raises(ConfigError, match="give one of them"):
        normalize_call("targets", True)
