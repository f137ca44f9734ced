"""Damaged pyproject.toml, uv.lock, Dockerfile and .python-version files: planning (as
``uvbuild plan`` and ``uvbuild dockerfile`` do it, in-process) gives a plan or a
UvbuildError of one line that names the file, never another exception, never a hang.

The property tests draw from tests/damage.py: a bounded, derandomized number of examples
(the "unit" Hypothesis profile in tests/conftest.py), on the fixture projects always and on
the uv.lock corpus when there is one. ``bench/fuzz_plan.py --seconds N`` runs many more.
Below them, one regression test per fault the fuzzing found, with its minimal input.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from tests import damage
from tests.paths import CORPUS, FIXTURES
from uvbuild import planner
from uvbuild.errors import ConfigError, LockError

FIXTURE_SEEDS = damage.fixture_seeds()
# the two smallest locks of the corpus: a corpus example costs ten fixture ones
CORPUS_SEEDS = damage.corpus_seeds(limit=2)


def _problem(case: damage.Damaged) -> damage.Problem | None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        case.write(project)
        return damage.outcome(project)


@pytest.mark.parametrize("seed", FIXTURE_SEEDS, ids=lambda s: s.name)
def test_every_seed_plans_as_it_is(tmp_path, seed):
    """Undamaged, each seed plans: the damage is what the property tests try."""
    damaged = damage.Damaged(seed, seed.files)
    damaged.write(tmp_path / "project")
    damage.plan_and_render(tmp_path / "project")


@settings(max_examples=60)
@given(case=damage.damaged(FIXTURE_SEEDS))
def test_damaged_fixture_projects_plan_or_stop_with_one_line(case):
    problem = _problem(case)
    assert problem is None, f"{problem}\n{case}"


@pytest.mark.skipif(not CORPUS_SEEDS, reason=f"no uv.lock corpus at {CORPUS} (set UVBUILD_CORPUS)")
@settings(max_examples=6)
@given(case=damage.damaged(CORPUS_SEEDS or FIXTURE_SEEDS))
def test_damaged_corpus_projects_plan_or_stop_with_one_line(case):
    problem = _problem(case)
    assert problem is None, f"{problem}\n{case}"


# -- the oracle finds what it is meant to ---------------------------------------------------


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "project"
    shutil.copytree(FIXTURES / "two_indexes", target)
    return target


def test_the_oracle_reports_a_crash_and_a_hang(project, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyError("name")

    monkeypatch.setattr(planner, "make_plan", crash)
    problem = damage.outcome(project)
    assert problem is not None
    assert (problem.kind, problem.message) == ("crash", "KeyError: 'name'")

    def hang(*args, **kwargs):
        while True:
            pass

    monkeypatch.setattr(planner, "make_plan", hang)
    problem = damage.outcome(project, seconds=0.05)
    assert problem is not None
    assert problem.kind == "hang"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("/p/uv.lock: 'version' is missing", None),
        ("/p/Dockerfile:3: refused", None),
        ("/p/pyproject.toml: tool.uvbuild.\nx: unknown", "multi-line"),
        ("a\u2028b uv.lock", "multi-line"),
        ("--extra x: 'app' has no extra 'x'", "no-file"),
        ("", "no-message"),
    ],
)
def test_the_oracle_checks_the_message(message, kind):
    assert damage.check_message(message) == kind


# -- regressions: each fault the fuzzing found, with its minimal input ----------------------


def test_a_lock_with_an_integer_too_long_for_python(project):
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace("revision = 3", "revision = " + "9" * 5000))
    with pytest.raises(LockError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{lock}: not valid TOML for uvbuild (Exceeds the limit (4300 digits) for integer "
        "string conversion: value has 5000 digits); fix the file"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('requires-python = ">=3.11"', 'requires-python = ">=3.' + "1" * 5000 + '"'),
        ('version = "1.17.0"', 'version = "1.' + "9" * 5000 + '"'),
        ("six-1.17.0-py2.py3", "six-1." + "9" * 5000 + "-py2.py3"),
    ],
    ids=["requires-python", "version", "wheel-name"],
)
def test_a_lock_with_a_number_too_long_in_a_string(project, old, new):
    # packaging's int() of it was a ValueError in planner.default_python, wheels, markers
    lock = project / "uv.lock"
    text = lock.read_text()
    lock.write_text(text.replace(old, new, 1))
    line = text[: text.index(old)].count("\n") + 1
    with pytest.raises(LockError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{lock}:{line}: a number of more than 4300 digits, which no version, marker or size "
        "has; fix the file"
    )


def test_a_pyproject_nested_too_deeply(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[x]\ny = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{pyproject}: not valid TOML for uvbuild (nested too deeply); fix the file"
    )


def test_a_python_version_file_that_is_not_text(project):
    (project / ".python-version").write_bytes(b"\xff\xff")
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{project / '.python-version'}: not UTF-8 text (invalid start byte: byte 0xff at "
        "offset 0); write a version such as 3.11 in it, or delete it"
    )


@pytest.mark.parametrize("text", ["3." + "9" * 5000, "3.\u0661\u0661", "3.999"])
def test_a_python_version_file_naming_no_python_is_not_read(project, text):
    # 5000 digits made int() fail in core/selection/target.py; none of these is a Python uv finds
    (project / ".python-version").write_text(text + "\n")
    assert planner.make_plan(project, damage.FLAGS).target.python == "3.11"


def test_a_python_version_outside_requires_python_names_the_file(project):
    # it named --python, which nobody passed
    (project / ".python-version").write_text("3.1\n")
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{project / '.python-version'}: Python 3.1 is outside the lock's requires-python "
        "'>=3.11'; change the file, or pass --python"
    )


def test_a_bad_setting_in_pyproject_names_the_file(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\n"\\n" = 1\n')
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    message = str(info.value)
    assert message.startswith(f'{pyproject}: tool.uvbuild."\\n": unknown setting; known')
    assert len(message.splitlines()) == 1


def test_a_bad_flag_still_names_the_flag(project):
    with pytest.raises(ConfigError, match=r"^--pool-threshold: expected a size"):
        planner.make_plan(project, {**damage.FLAGS, "pool_threshold": "lots"})


def test_an_extra_tool_uvbuild_asks_for_names_pyproject(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\nextras = ["nope"]\n')
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{pyproject}: [tool.uvbuild] --extra nope: 'gpuapp' has no extra 'nope' (it has: none)"
    )
    # given on the command line, the flag is the origin
    with pytest.raises(ConfigError, match=r"^--extra other: 'gpuapp' has no extra"):
        planner.make_plan(project, {**damage.FLAGS, "extras": ("other",)})


def test_an_extra_the_seed_sync_asks_for_names_its_line(project):
    dockerfile = project / "Dockerfile"
    text = (damage.DOCKERFILES / "seed.Dockerfile").read_text()
    dockerfile.write_text(text.replace("uv sync --no-dev", "uv sync --extra \u202e --no-dev"))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("RUN --mount"))
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{dockerfile}:{line}: its `uv sync` --extra \u202e: 'gpuapp' has no extra '\\u202e' "
        "(it has: none)"
    )


def test_a_dockerfile_of_line_continuations_only(project):
    (project / "Dockerfile").write_text("\\\n\\\n")
    with pytest.raises(ConfigError) as info:
        planner.make_plan(project, damage.FLAGS)
    assert str(info.value) == (
        f"{project / 'Dockerfile'}: no FROM instruction: not a Dockerfile that builds an image"
    )


def test_a_package_with_no_wheel_left_names_the_lock(project):
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace("x86_64.whl", "x86_65.whl"))
    plan = planner.make_plan(project, damage.FLAGS)
    with pytest.raises(ConfigError) as info:
        planner.check_installable(plan)
    assert str(info.value).startswith(f"{lock}: nvidia-cublas-cu12 12.8.4.1 has no wheel for")
