"""uvbuild.planner.keys: the images the keys cover, what moves a key and what keeps it, and
with_digests."""

from __future__ import annotations

import pytest

from tests.paths import FIXTURES
from tests.planner.projects import edit, seed_plan
from uvbuild.planner.keys import with_digests
from uvbuild.planner.plan import make_plan


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("apt-get install -y $APT", "apt-get install -y $APT wget"),  # a system RUN
        ("ENV UV_PYTHON", "ENV LANG=C.UTF-8\nENV UV_PYTHON"),  # a system ENV
        ("ARG BASE=debian:bookworm", "ARG BASE=debian:trixie"),  # the FROM image
        ("uv:0.5.2", "uv:0.5.3"),  # an image the system part copies from
    ],
)
def test_an_edit_of_the_system_part_moves_the_key(seed_project, old, new):
    before = seed_plan(seed_project)
    edit(seed_project / "Dockerfile", old, new)
    after = seed_plan(seed_project)
    assert after.key != before.key
    assert all(a.key != b.key for a, b in zip(after.layers, before.layers, strict=True))


def test_an_edit_of_a_copied_file_moves_the_key(seed_project):
    before = seed_plan(seed_project)
    (seed_project / "scripts" / "setup.sh").write_text("echo set up again\n")
    assert seed_plan(seed_project).key != before.key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("COPY pyproject.toml uv.lock /project/", "COPY pyproject.toml uv.lock README* /project/"),
        ("ARG APP_VERSION=1", "ARG APP_VERSION=2"),  # an ARG of the prelude
        ("COPY . /project\n", "COPY . /project\nRUN echo more\n"),  # the rest
        ('CMD ["/app/bin/python"]', 'CMD ["/app/bin/python", "-m", "app"]'),  # the runtime
    ],
)
def test_an_edit_after_the_system_part_keeps_the_key(seed_project, old, new):
    before = seed_plan(seed_project)
    edit(seed_project / "Dockerfile", old, new)
    assert seed_plan(seed_project).key == before.key


def test_a_light_bump_keeps_the_key(seed_project):
    before = seed_plan(seed_project)
    edit(seed_project / "uv.lock", 'version = "1.17.0"', 'version = "1.17.1"')
    after = seed_plan(seed_project)
    assert [s.version for s in after.light] == ["1.17.1"]
    assert after.key == before.key


def test_an_edit_of_a_project_file_outside_the_system_part_keeps_the_key(seed_project):
    before = seed_plan(seed_project)
    (seed_project / "app.py").write_text("print('hi')\n")
    assert seed_plan(seed_project).key == before.key


@pytest.mark.parametrize(
    ("build_args", "moves"),
    [
        ({"APT": "wget"}, True),  # an ARG the system RUN sees
        ({"BASE": "debian:trixie"}, True),  # the global ARG of the FROM
        ({"python_version": "3.12"}, True),
        ({"APT": "curl"}, False),  # the default, given
        ({"APP_VERSION": "2"}, False),  # an ARG of the prelude
        ({"UNUSED": "x"}, False),
    ],
)
def test_build_args_move_the_key_when_the_system_part_uses_them(seed_project, build_args, moves):
    before = seed_plan(seed_project)
    after = seed_plan(seed_project, build_args)
    assert (after.key != before.key) is moves


def test_image_refs_are_the_base_image_and_uv_image_each_once():
    plan = make_plan(FIXTURES / "two_indexes", {"platform": "linux/amd64"})
    assert [(i.ref, i.setting) for i in plan.image_refs] == [
        ("python:3.11-slim", "--base-image (tool.uvbuild.base-image)"),
        ("ghcr.io/astral-sh/uv:0.13.9", "--uv-image (tool.uvbuild.uv-image)"),
    ]
    same = make_plan(
        FIXTURES / "two_indexes",
        {"platform": "linux/amd64", "base_image": "x:1", "uv_image": "x:1"},
    )
    assert [i.ref for i in same.image_refs] == ["x:1"]


def test_digests_move_every_key_and_with_digests_rekeys_without_reading_files():
    flags = {"platform": "linux/amd64"}
    plain = make_plan(FIXTURES / "two_indexes", flags)
    digests = {i.ref: "sha256:" + str(n) * 64 for n, i in enumerate(plain.image_refs)}
    made = make_plan(FIXTURES / "two_indexes", flags, digests=digests)
    assert made.key != plain.key and made.digests == tuple(sorted(digests.items()))
    assert all(a.key != b.key for a, b in zip(made.layers, plain.layers, strict=True))
    rekeyed = with_digests(plain, {**digests, "unrelated:1": "sha256:x"})
    assert rekeyed == made
    with pytest.raises(ValueError, match=r"no digest for python:3\.11-slim"):
        with_digests(plain, {"ghcr.io/astral-sh/uv:0.13.9": "sha256:u"})


def test_digests_rekey_the_light_layers_too():
    flags = {"platform": "linux/amd64", "pool_threshold": "10kB"}
    plain = make_plan(FIXTURES / "two_indexes", flags)
    digests = {i.ref: "sha256:" + str(n) * 64 for n, i in enumerate(plain.image_refs)}
    made = make_plan(FIXTURES / "two_indexes", flags, digests=digests)
    assert [g.name for g in made.light_layers] == ["light-six"]
    assert made.light_layers[0].key != plain.light_layers[0].key
    assert with_digests(plain, digests) == made
