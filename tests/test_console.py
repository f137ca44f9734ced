"""uvbuild.console: plain lines on a pipe, colour and a live line on a terminal, NO_COLOR,
quiet and verbose. A terminal is simulated with FORCE_COLOR (rich then treats the captured
stream as a TTY)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from rich.console import Console

from tests.paths import CORPUS, FIXTURES
from uvbuild import planner
from uvbuild.console import Terminal, describe_packages, layer_names, plain
from uvbuild.core import render
from uvbuild.core.units import size_total

COLOR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|38;)[0-9;]*m")


@pytest.fixture(autouse=True)
def _pipe(monkeypatch):
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def everything(terminal: Terminal) -> None:
    terminal.step("building base app-uvbuild-base:0123")
    terminal.info("an info line")
    terminal.detail("a detail")
    terminal.command("$ docker buildx inspect")
    terminal.warn("low disk")
    terminal.stream("#5 \x1b[32mRUN\x1b[0m uv pip install\r")
    terminal.error("it broke")


def test_plain_strips_escapes_and_controls():
    assert plain("a\x1b[31mred\x1b[0m\r\tb\x07\x1b]0;title\x07c") == "ared\tb0;titlec"
    assert plain("nothing to do") == "nothing to do"


def test_pipe_gets_plain_lines(capsys):
    everything(Terminal())
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "==> building base app-uvbuild-base:0123",
        "an info line",
        "warning: low disk",
        "#5 RUN uv pip install",
        "error: it broke",
    ]
    assert "\x1b" not in err and "\r" not in err


def test_verbose_shows_details_and_commands(capsys):
    everything(Terminal(verbose=True))
    err = capsys.readouterr().err
    assert "a detail" in err.splitlines()
    assert "$ docker buildx inspect" in err.splitlines()


def test_quiet_leaves_only_errors(capsys):
    everything(Terminal(quiet=True, verbose=True))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: it broke\n"


@dataclass
class FakeResult:
    tags: tuple[str, ...] = ("app:dev",)
    image_id: str | None = "sha256:abc"
    layers: tuple = ()
    base_tag: str = "app-uvbuild-base:0123"
    base_action: str = "reused"
    base_seconds: float = 0.0
    app_seconds: float = 1.0


@pytest.mark.parametrize(
    ("result", "printed"),
    [
        (FakeResult(), "app:dev\n"),
        (FakeResult(tags=()), "sha256:abc\n"),
        (FakeResult(tags=(), image_id=None), ""),
    ],
)
def test_quiet_summary_is_the_image_reference(capsys, result, printed):
    Terminal(quiet=True).build_summary(result)
    out, err = capsys.readouterr()
    assert out == printed
    assert err == ""


def test_terminal_gets_colour(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    Terminal().warn("low disk")
    assert COLOR.search(capsys.readouterr().err)


@pytest.mark.parametrize("how", ["env", "flag"])
def test_no_color(capsys, monkeypatch, how):
    monkeypatch.setenv("FORCE_COLOR", "1")
    if how == "env":
        monkeypatch.setenv("NO_COLOR", "1")
    terminal = Terminal(color=how != "flag")
    terminal.warn("low disk")
    terminal.error("it broke")
    terminal.stream("#5 \x1b[32mRUN\x1b[0m")
    err = capsys.readouterr().err
    assert not COLOR.search(err), repr(err)
    assert "#5 RUN" in err


def test_empty_no_color_does_not_count(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "")
    Terminal().warn("low disk")
    assert COLOR.search(capsys.readouterr().err)


def test_live_progress_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    terminal = Terminal()
    with terminal.progress():
        assert terminal._progress is not None
        terminal.step("building base")
        terminal.stream("#1 a build line")
        terminal.activity("still building")
        terminal.step("building the app")
    assert terminal._progress is None
    err = capsys.readouterr().err
    assert "building base" in err and "#1 a build line" in err and "building the app" in err


def test_no_live_progress_on_a_pipe_or_when_quiet(capsys, monkeypatch):
    for terminal in (Terminal(), Terminal(quiet=True)):
        with terminal.progress():
            assert terminal._progress is None
            terminal.activity("nothing shows this")
    monkeypatch.setenv("FORCE_COLOR", "1")
    terminal = Terminal(quiet=True)
    with terminal.progress():
        assert terminal._progress is None
    assert "nothing shows this" not in capsys.readouterr().err


@dataclass
class FakeCheck:
    name: str
    title: str
    status: str
    detail: str
    fix: str | None = None


def test_doctor_report(capsys):
    Terminal().doctor_report(
        [
            FakeCheck("docker-cli", "docker CLI", "pass", "/usr/bin/docker"),
            FakeCheck("engine", "engine", "fail", "no engine answers", "start the engine"),
            FakeCheck("builder", "builder", "skip", "needs the engine", "unused fix"),
            FakeCheck("disk", "disk", "warn", "not measured", "check df"),
        ]
    )
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "pass  docker CLI  /usr/bin/docker"
    assert lines[1] == "fail  engine      no engine answers"
    assert lines[2].strip() == "fix: start the engine"
    assert lines[3] == "skip  builder     needs the engine"
    assert lines[5].strip() == "fix: check df"
    assert lines[-1] == "1 passed, 1 warnings, 1 failed, 1 skipped"
    assert "unused fix" not in out


def test_quiet_doctor_report_prints_nothing(capsys):
    Terminal(quiet=True).doctor_report([FakeCheck("engine", "engine", "fail", "x", "y")])
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("known", "unknown", "text"),
    [
        (3_100_000_000, 0, "3.1 GB"),
        (3_100_000_000, 4, "3.1 GB + 4 of unknown size"),
        (0, 2, "2 of unknown size"),
        (0, 0, "0 B"),
    ],
)
def test_size_total_counts_unknown_sizes_visibly(known, unknown, text):
    assert size_total(known, unknown) == text


# -- layer names in the build summary -----------------------------------------------------


def fixture_plan(**flags):
    return planner.make_plan(
        FIXTURES / "two_indexes", {"platform": "linux/amd64", "python": "3.11", **flags}
    )


def history_of(stage: str) -> list[str]:
    """What BuildKit records as "created by" for each layer-making instruction of a
    rendered stage: ``RUN /bin/sh -c <command>`` without its mounts, ``COPY <src> <dst>
    # buildkit`` without --link/--from."""
    steps = []
    for instruction in re.sub(r"\\\n\s*", " ", stage).splitlines():
        word, _, rest = instruction.partition(" ")
        flags = r"^(?:--\S+\s+)*"
        if word == "RUN":
            steps.append("RUN /bin/sh -c " + re.sub(flags, "", rest))
        elif word in ("COPY", "WORKDIR"):
            steps.append(f"{word} {re.sub(flags, '', rest)} # buildkit")
    return steps


def image_history(plan) -> list[tuple[str, bool]]:
    base = ["ADD rootfs.tar.xz / # buildkit", "RUN /bin/sh -c apt-get update # buildkit"]
    base += history_of(render.base_stage(plan))
    app = history_of(render.deps_stage(plan) + "\n" + render.app_stage(plan))
    return [(step, True) for step in base] + [(step, False) for step in app]


def test_layer_names_with_layer_groups():
    plan = fixture_plan()
    assert [g.name for g in plan.layers] == ["cuda", "frameworks"]
    assert layer_names(plan, image_history(plan)) == [
        "base image",
        "base image",
        "uv",
        "python 3.11, where the image has none",
        "venv",
        "cuda: nvidia-cublas-cu12 12.8.4.1",
        "frameworks: torch 2.7.1+cu128",
        "WORKDIR /app",
        "deps: pyproject.toml, uv.lock",
        "deps: 1 light packages",
        "app: source",
        "app: gpuapp",
    ]


def test_layer_names_with_light_layers():
    plan = fixture_plan(pool_threshold="10kB")
    assert layer_names(plan, image_history(plan))[5:] == [
        "cuda: nvidia-cublas-cu12 12.8.4.1",
        "frameworks: torch 2.7.1+cu128",
        "light-six: six 1.17.0",
        "WORKDIR /app",
        "deps: pyproject.toml, uv.lock",
        "deps: 0 light packages",
        "app: source",
        "app: gpuapp",
    ]


def test_layer_names_with_one_heavy_layer():
    plan = fixture_plan(layer_mode="single")
    names = layer_names(plan, image_history(plan))
    assert names[:5] == [
        "base image",
        "base image",
        "uv",
        "python 3.11, where the image has none",
        "venv + heavy: nvidia-cublas-cu12 12.8.4.1 +1",
    ]


def test_layer_names_of_a_users_dockerfile_are_its_instructions():
    plan = fixture_plan()
    layers = [(step, True) for step in history_of(render.base_stage(plan))]
    layers += [("RUN /bin/sh -c apt-get install -y git # buildkit", False), ("", False)]
    assert layer_names(plan, layers)[-2:] == ["RUN apt-get install -y git", ""]


def choices(*packages):
    return [
        SimpleNamespace(selected=SimpleNamespace(name=n, version=v, size=s)) for n, v, s in packages
    ]


def test_describe_packages():
    cuda = choices(*((f"nvidia-lib{i}-cu12", "12.1", 242_000_000) for i in range(12)))
    assert describe_packages(cuda, "cuda") == "cuda: 12 packages, 2.9 GB"
    frameworks = choices(
        ("torch", "2.5.1", 800_000_000),
        ("triton", "3.1", 200_000_000),
        ("a", "1", 1),
        ("b", "1", 1),
    )
    assert describe_packages(frameworks, "frameworks") == "frameworks: torch 2.5.1 +3"
    unknown = choices(("torch", "2.5.1", None), ("triton", "3.1", None))
    assert (
        describe_packages(unknown, "frameworks")
        == "frameworks: 2 packages, 0 B + 2 of unknown size"
    )
    assert describe_packages([], "other") == "other"


def test_summary_names_layers_by_what_they_hold(capsys):
    plan = fixture_plan()
    layers = tuple(
        SimpleNamespace(diff_id=f"sha256:{i:064x}", size=1000, shared=shared, created_by=step)
        for i, (step, shared) in enumerate(image_history(plan))
    )
    Terminal().build_summary(FakeResult(layers=layers), plan)
    out, err = capsys.readouterr()
    assert out == "app:dev\n"
    for name in ("base image", "uv", "venv", "cuda: nvidia-cublas-cu12", "app: gpuapp"):
        assert name in err
    assert "SOURCE_DATE_EPOCH" not in err and "uvbuild-layer" not in err


# -- plan at 80 and 120 columns and in a pipe ---------------------------------------------


def corpus_plans():
    plans = [pytest.param("two_indexes", id="fixture")]
    for name in ("karpathy__nanochat", "OpenPipe__ART"):
        plans.append(
            pytest.param(
                name,
                id=name,
                marks=pytest.mark.skipif(not (CORPUS / name).is_dir(), reason=f"no {name}"),
            )
        )
    return plans


def plan_of(name: str):
    path = FIXTURES / name if name == "two_indexes" else CORPUS / name
    return planner.make_plan(path, {"platform": "linux/amd64", "python": "3.11"})


def table_lines(text: str) -> list[str]:
    """The package table or list (above the sources, which a long URL may make wider)."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith(("source: ", "heavy: ")))
    return lines[:end]


@pytest.mark.parametrize("name", corpus_plans())
@pytest.mark.parametrize("width", [80, 120, None])  # None: a pipe (COLUMNS unset: 80)
def test_plan_is_readable_at_80_and_120_columns_and_in_a_pipe(name, width, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    plan = plan_of(name)
    terminal = Terminal()
    buffer = io.StringIO()
    terminal.out = Console(file=buffer, width=width, highlight=False, soft_wrap=True)
    terminal.plan_table(plan)
    text = buffer.getvalue()
    lines = table_lines(text)
    assert all(len(line) <= (width or 80) for line in lines), max(lines, key=len)
    assert "…" not in "\n".join(lines)
    words = set(re.split(r"[\s│┃,()]+", "\n".join(lines)))
    for selected in plan.selected:
        # every name and version whole: no column cut to "so…" or "w…"
        assert selected.name in words and (selected.version or "") in words | {""}, selected.name
    if width is None:
        assert "\x1b" not in text
    if width == 120 and name == "karpathy__nanochat":  # one source: the full table fits
        assert "source" in lines[2] and "https://pypi.org/simple" in lines[4]


def test_messages_on_a_pipe_are_what_rich_prints(capsys):
    """A message line on a pipe is written without rich when rich would print its text
    unchanged (_plain_line); random texts of markup-like characters print as rich does."""
    import random

    from rich.markup import escape

    from uvbuild import console

    rng = random.Random(12)
    alphabet = [*"ab [ ]/\\:#@=-_.x\n", "[bold]", "[/]", "中", ":smile:", "\t", "é"]
    alphabet += ["\x1b[31m", "\r"]
    taken = 0
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for prefix in ("", "[bold cyan]==>[/] ", "[yellow]warning:[/] ", "[bold red]error:[/] "):
            line = console._plain_line(text)
            if line is None:
                continue
            taken += 1
            buffer = io.StringIO()
            rich = Console(file=buffer, highlight=False, emoji=False, soft_wrap=True)
            console._show(rich, prefix + escape(text))
            assert console._MARKUP_TAG.sub("", prefix) + line + "\n" == buffer.getvalue()
    assert taken > 1000


def test_a_pipe_makes_no_rich_console_for_messages(capsys):
    terminal = Terminal(verbose=True)
    everything(terminal)
    with terminal.progress():
        terminal.step("still plain")
    assert terminal._err is None and terminal._out is None
    err = capsys.readouterr().err
    assert "==> still plain" in err and "error: it broke" in err
    terminal.info("an emoji code :smile: goes through rich, as before")
    assert terminal._err is not None
    assert "an emoji code" in capsys.readouterr().err


def test_rich_is_imported_during_a_build_only_for_a_closing_table(capsys):
    terminal = Terminal()
    with terminal.build_view("plain"):
        assert terminal._warming is None  # --json, --dry-run: no table, nothing imported
    terminal.table_ahead()
    with terminal.build_view("plain"):
        assert terminal._warming is not None
    terminal.build_summary(FakeResult())
    assert not terminal._warming.is_alive()
    assert "app:dev" in capsys.readouterr().out
