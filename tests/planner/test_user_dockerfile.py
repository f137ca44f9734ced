"""uvbuild.planner.user_dockerfile: which Dockerfile the build runs, in which mode, and the
digests of the build-context files its system part copies."""

from __future__ import annotations

import pytest

from tests.planner.projects import EXPLICIT_DOCKERFILE, FLAGS, edit, seed_plan
from uvbuild.errors import ConfigError
from uvbuild.planner.plan import make_plan
from uvbuild.planner.user_dockerfile import context_digests


def test_seed_plan_takes_the_syncs_settings(seed_project):
    plan = seed_plan(seed_project, flags={"platform": "linux/amd64", "python": "3.12"})
    assert plan.dockerfile.mode == "seed"
    assert plan.dockerfile.path == str(seed_project / "Dockerfile")
    assert plan.seed is not None and plan.system is plan.seed.system
    assert plan.config.venv == "/app"
    assert plan.config.compile_bytecode is True
    assert plan.target.python == "3.11"  # UV_PYTHON wins over --python
    assert plan.request.no_dev is True
    assert plan.dockerfile.context_digests[0][0] == "scripts/setup.sh"
    assert "context scripts/setup.sh sha256:" in plan.key_document


def test_the_projects_dockerfile_is_read_without_file(seed_project):
    plan = make_plan(seed_project, FLAGS)
    assert plan.dockerfile.mode == "seed"
    assert plan.key == seed_plan(seed_project).key


def test_generated_ignores_the_projects_dockerfile(seed_project):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.uvbuild]\ndockerfile = "generated"\n')
    plan = make_plan(seed_project, FLAGS)
    assert plan.dockerfile.mode == "generated" and plan.system is None


def test_seed_refusal_reaches_make_plan(seed_project):
    edit(seed_project / "Dockerfile", "--no-dev --no-install-project", "--no-sources")
    with pytest.raises(ConfigError, match=rf"^{seed_project / 'Dockerfile'}:12: `uv sync "):
        seed_plan(seed_project)


def test_malformed_dockerfile_names_the_file(seed_project):
    (seed_project / "Dockerfile").write_text("FROM debian\nENV A\n")
    with pytest.raises(ConfigError) as info:
        seed_plan(seed_project)
    assert str(info.value).startswith(f"{seed_project / 'Dockerfile'}: not a Dockerfile")


def test_missing_file_names_the_flag(tmp_path, seed_project):
    with pytest.raises(ConfigError, match=r"^--file: .* does not exist"):
        make_plan(seed_project, FLAGS, dockerfile=tmp_path / "nope")


def test_build_arg_python_version_reaches_the_target(seed_project):
    assert seed_plan(seed_project, {"python_version": "3.12"}).target.python == "3.12"


def test_explicit_system_stage(seed_project):
    (seed_project / "Dockerfile").write_text(EXPLICIT_DOCKERFILE)
    (seed_project / "apt.txt").write_text("curl\n")
    plan = seed_plan(seed_project)
    assert plan.dockerfile.mode == "base"
    assert plan.seed is None and plan.system is not None
    assert plan.system.system_from == "FROM debian:bookworm AS uvbuild-system"
    assert plan.dockerfile.context_digests[0][0] == "apt.txt"
    before = plan.key
    (seed_project / "apt.txt").write_text("curl wget\n")
    assert seed_plan(seed_project).key != before


def test_base_dockerfile_without_a_system_stage(seed_project):
    (seed_project / "Dockerfile").write_text("FROM uvbuild-base\nCOPY . /app\n")
    plan = seed_plan(seed_project)
    assert plan.dockerfile.mode == "base" and plan.system is None
    generated = make_plan(seed_project, {**FLAGS, "dockerfile": "generated"})
    assert plan.key == generated.key


def test_context_digests(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    (tmp_path / "d" / "y").write_text("y")
    sources = ("a.txt", "/a.txt", "d/", "*.txt", "nope", "no*")
    digests = dict(context_digests(tmp_path, sources))
    assert digests["a.txt"] == digests["/a.txt"] == digests["*.txt"] != "missing"
    assert digests["d/"] != digests["a.txt"]
    assert digests["nope"] == digests["no*"] == "missing"
    before = digests["d/"]
    (tmp_path / "d" / "y").write_text("changed")
    assert dict(context_digests(tmp_path, ("d/",)))["d/"] != before
    # a renamed file with the same bytes is another context
    (tmp_path / "d" / "y").rename(tmp_path / "d" / "z")
    assert dict(context_digests(tmp_path, ("d/",)))["d/"] != before


@pytest.mark.parametrize(
    ("tool_uv", "env", "compiles", "downloads"),
    [
        ("compile-bytecode = true\npython-downloads = 'never'\n", "", True, "never"),
        ("compile-bytecode = true\n", "ENV UV_COMPILE_BYTECODE=0\n", False, "automatic"),
        ("", "", False, "automatic"),
    ],
)
def test_seed_reads_tool_uv_below_the_environment(seed_project, tool_uv, env, compiles, downloads):
    pyproject = seed_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.uv]\n{tool_uv}")
    (seed_project / "Dockerfile").write_text(
        f"FROM debian:bookworm\n{env}WORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN uv sync --frozen --no-install-project\n"
    )
    plan = seed_plan(seed_project)
    assert plan.config.compile_bytecode is compiles
    assert plan.seed.python_downloads == downloads
