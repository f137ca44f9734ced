"""uvbuild.core.config: [tool.uvbuild] and flags -> Config; errors name the dotted key or flag."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from uvbuild.core.config import (
    CONFIG_KEYS,
    DEFAULT_GLIBC,
    DEFAULT_LAYER_LIMIT,
    DEFAULT_PYTHON,
    DEFAULT_THRESHOLD,
    DEFAULT_UV_IMAGE,
    DEFAULT_VENV,
    FIELD_TO_KEY,
    SETTINGS,
    Config,
    load_config,
    normalize_platform,
)
from uvbuild.core.settings import KINDS, rows, setting
from uvbuild.core.units import parse_size
from uvbuild.errors import ConfigError

# One valid [tool.uvbuild] value per key, and the Config field value it becomes.
VALID: dict[str, tuple[object, object]] = {
    "base-image": (
        "nvidia/cuda:12.8.0-runtime-ubuntu22.04",
        "nvidia/cuda:12.8.0-runtime-ubuntu22.04",
    ),
    "python": ("3.12", "3.12"),
    "platform": ("linux/aarch64", "linux/arm64"),
    "venv": ("/venv/", "/venv"),
    "uv-image": ("ghcr.io/astral-sh/uv:0.9.0", "ghcr.io/astral-sh/uv:0.9.0"),
    "base-repo": ("registry:5000/team/base", "registry:5000/team/base"),
    "heavy": (["my-big-*"], ("my-big-*",)),
    "heavy-only": (["torch"], ("torch",)),
    "heavy-exclude": (["opencv-*"], ("opencv-*",)),
    "heavy-threshold": ("1GiB", 2**30),
    "heavy-min-size": ("512kB", 512_000),
    "extras": (["gpu"], ("gpu",)),
    "all-extras": (True, True),
    "groups": (["lint"], ("lint",)),
    "only-groups": (["docs"], ("docs",)),
    "no-dev": (True, True),
    "package": ("member", "member"),
    "all-packages": (True, True),
    "no-extras": (["cpu"], ("cpu",)),
    "no-groups": (["lint"], ("lint",)),
    "all-groups": (True, True),
    "no-default-groups": (True, True),
    "dev": (True, True),
    "only-dev": (True, True),
    "packages": (["a", "b"], ("a", "b")),
    "compile-bytecode": (False, False),
    "dockerfile": ("docker/Dockerfile", "docker/Dockerfile"),
    "glibc": ("2.31", "2.31"),
    "layers": (
        {"cuda": ["nvidia-*", " cuda-* "], "torch": ["torch", "triton"]},
        (("cuda", ("nvidia-*", "cuda-*")), ("torch", ("torch", "triton"))),
    ),
    "layer-mode": ("auto", "auto"),
    "python-downloads": ("never", "never"),
    "layer-limit": ("1.5GB", 1_500_000_000),
    "pool-threshold": ("5MB", 5_000_000),
    "index-credentials": (["synth"], ("synth",)),
}


def test_the_table_covers_every_key():
    assert set(VALID) == set(CONFIG_KEYS)
    assert set(FIELD_TO_KEY) == {f.name for f in fields(Config)}


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_key_parses(key):
    value, expected = VALID[key]
    config = load_config({key: value})
    field = next(f for f, k in FIELD_TO_KEY.items() if k == key)
    assert getattr(config, field) == expected


def test_all_keys_together():
    config = load_config({key: value for key, (value, _) in VALID.items()})
    assert config.platform == "linux/arm64"
    assert config.heavy_threshold == 2**30
    assert config.resolved_base_image == "nvidia/cuda:12.8.0-runtime-ubuntu22.04"


def test_defaults():
    config = load_config(None)
    assert config == Config()
    assert config.python == DEFAULT_PYTHON == "3.11"
    assert config.platform is None
    assert config.venv == DEFAULT_VENV == "/opt/venv"
    assert config.uv_image == DEFAULT_UV_IMAGE
    assert config.base_repo is None
    assert config.heavy == ()
    assert config.heavy_only is None
    assert config.heavy_threshold == DEFAULT_THRESHOLD == 50_000_000
    assert config.compile_bytecode is True
    assert config.no_dev is False
    assert config.dockerfile is None
    assert config.glibc == DEFAULT_GLIBC == "2.28"
    assert config.resolved_base_image == "python:3.11-slim"
    assert config.layers is None
    assert config.layer_mode == "groups"
    assert config.layer_limit == DEFAULT_LAYER_LIMIT == 2_000_000_000
    assert load_config({}) == Config()


def test_base_image_follows_python():
    assert load_config({"python": "3.12"}).resolved_base_image == "python:3.12-slim"


def test_flags_override_config():
    table = {"python": "3.10", "platform": "linux/amd64", "heavy-threshold": "10MB"}
    flags = {"python": "3.12", "platform": "linux/arm64", "heavy_threshold": "1GB"}
    config = load_config(table, flags)
    assert (config.python, config.platform, config.heavy_threshold) == (
        "3.12",
        "linux/arm64",
        10**9,
    )


def test_unset_flags_keep_config():
    table = {"extras": ["gpu"], "no-dev": True, "python": "3.12"}
    config = load_config(table, {"extras": (), "no_dev": None, "python": None})
    assert config.extras == ("gpu",)
    assert config.no_dev is True
    assert config.python == "3.12"


def test_each_setting_is_one_row():
    assert [row.name for row in SETTINGS] == [f.name for f in fields(Config)]
    for row in SETTINGS:
        assert row.key == row.name.replace("_", "-")
        assert row.kind in KINDS
        assert getattr(Config(), row.name) == row.default
        if row.flag is not None:
            assert row.flag.help and row.flag.names[0].startswith("--")


def test_a_field_without_a_row_fails_when_the_table_is_read():
    @dataclass(frozen=True)
    class Plain:
        x: int = 0

    with pytest.raises(AssertionError, match="x is not declared with setting"):
        rows(Plain)

    @dataclass(frozen=True)
    class Orphan:
        y: bool = setting(False, "bool", "--y", "Y.", form="switch", also="nothing")

    with pytest.raises(AssertionError, match="which is no setting"):
        rows(Orphan)


def test_a_flag_replaces_the_key_that_says_the_same_thing():
    config = load_config({"no-dev": True}, {"dev": True})
    assert (config.dev, config.no_dev) == (True, False)
    config = load_config({"dev": True}, {"no_dev": True})
    assert (config.dev, config.no_dev) == (False, True)
    config = load_config({"package": "a"}, {"packages": ("b", "c")})
    assert (config.package, config.packages) == (None, ("b", "c"))
    config = load_config({"packages": ["b", "c"]}, {"package": "a"})
    assert (config.package, config.packages) == ("a", ())


def test_layers_keep_the_table_order():
    config = load_config({"layers": {"zz": ["z*"], "aa": ["a*"], "mm": ["m*"]}})
    assert [name for name, _ in config.layers] == ["zz", "aa", "mm"]


@pytest.mark.parametrize(
    ("table", "where", "says"),
    [
        ({"cuda": "nvidia-*"}, "layers.cuda", "array of strings"),
        ({"cuda": []}, "layers.cuda", "at least one"),
        ({"cuda": [3]}, "layers.cuda", "array of strings"),
        ({"CUDA": ["nvidia-*"]}, "layers.CUDA", "lowercase"),
        ({"my_group": ["x"]}, "layers.my_group", "lowercase"),
        ({"-x": ["x"]}, "layers.-x", "lowercase"),
        ({"x" * 41: ["x"]}, "layers." + "x" * 41, "at most 40"),
        ({"other": ["x"]}, "layers.other", "no group names"),
    ],
)
def test_bad_layer_group_names_the_group(table, where, says):
    with pytest.raises(ConfigError) as info:
        load_config({"layers": table})
    message = str(info.value)
    assert message.startswith(f"tool.uvbuild.{where}: ")
    assert says in message


def test_layer_mode_and_limit_flags():
    config = load_config({"layer-mode": "auto"}, {"layer_mode": "single", "layer_limit": "1GB"})
    assert (config.layer_mode, config.layer_limit) == ("single", 10**9)
    with pytest.raises(ConfigError, match=r"^--layer-mode: expected one of groups, auto, single"):
        load_config(None, {"layer_mode": "many"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50MB", 50_000_000),
        ("1.5GB", 1_500_000_000),
        ("512MiB", 512 * 2**20),
        ("1GiB", 2**30),
        ("10k", 10_000),
        ("2 gb", 2_000_000_000),
        ("100", 100),
        ("100B", 100),
        (123, 123),
        (0, 0),
    ],
)
def test_parse_size(value, expected):
    assert parse_size(value, "x") == expected


@pytest.mark.parametrize("value", ["1" + "0" * 400, "9" * 400 + "GB", "99999999999999999999TB"])
def test_parse_size_refuses_sizes_no_disk_holds(value):
    # found by tests/planner/test_plan_fuzz.py: a size past float range was OverflowError
    with pytest.raises(
        ConfigError, match=r"^tool\.uvbuild\.pool-threshold: .* is larger than any size"
    ):
        parse_size(value, "tool.uvbuild.pool-threshold")


@pytest.mark.parametrize("value", ["lots", "5XB", "", "-5MB", -1, True, 1.5, None, ["50MB"]])
def test_parse_size_rejects(value):
    with pytest.raises(ConfigError) as info:
        parse_size(value, "tool.uvbuild.heavy-threshold")
    assert str(info.value).startswith("tool.uvbuild.heavy-threshold: ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        (" LINUX/AMD64 ", "linux/amd64"),
    ],
)
def test_normalize_platform(value, expected):
    assert normalize_platform(value, "--platform") == expected


@pytest.mark.parametrize(
    "value",
    ["windows/amd64", "linux/s390x", "amd64", "linux/arm/v7", "linux/amd64/v8", "darwin/arm64", ""],
)
def test_normalize_platform_rejects(value):
    with pytest.raises(ConfigError) as info:
        normalize_platform(value, "--platform")
    message = str(info.value)
    assert message.startswith("--platform: ")
    assert "linux/amd64" in message and "linux/arm64" in message


BAD_VALUES = [
    ("base-image", ""),
    ("base-image", 3),
    ("python", "3"),
    ("python", "python3.11"),
    ("python", 3.10),  # TOML `python = 3.10` is the float 3.1
    ("python", True),
    ("platform", "windows/amd64"),
    ("platform", 64),
    ("venv", "venv"),
    ("venv", "/"),
    ("venv", 1),
    ("uv-image", ["x"]),
    ("base-repo", "Has-Upper"),
    ("base-repo", "repo with space"),
    ("base-repo", 5),
    ("heavy", "torch"),
    ("heavy", [1]),
    ("heavy", [""]),
    ("heavy-only", "torch"),
    ("heavy-exclude", {"a": 1}),
    ("heavy-threshold", "big"),
    ("heavy-threshold", True),
    ("heavy-threshold", -1),
    ("heavy-min-size", "tiny"),
    ("heavy-min-size", -1),
    ("extras", "gpu"),
    ("all-extras", "yes"),
    ("groups", [None]),
    ("only-groups", "docs"),
    ("no-dev", 1),
    ("no-dev", "true"),
    ("package", ""),
    ("all-packages", "no"),
    ("no-extras", "cpu"),
    ("no-groups", [""]),
    ("all-groups", "yes"),
    ("no-default-groups", 0),
    ("dev", "true"),
    ("only-dev", None),
    ("packages", "a"),
    ("compile-bytecode", 0),
    ("dockerfile", False),
    ("glibc", 2.28),
    ("glibc", "2"),
    ("glibc", "musl"),
    ("layers", ["nvidia-*"]),
    ("layers", "auto"),
    ("layers", {}),
    ("layer-mode", "layers"),
    ("layer-mode", True),
    ("python-downloads", "sometimes"),
    ("layer-limit", "huge"),
    ("pool-threshold", "small"),
    ("pool-threshold", -5),
    ("index-credentials", ["no spaces"]),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_names_the_key(key, value):
    with pytest.raises(ConfigError) as info:
        load_config({key: value})
    assert str(info.value).startswith(f"tool.uvbuild.{key}: ")


def test_every_key_has_a_bad_value_case():
    assert {key for key, _ in BAD_VALUES} == set(CONFIG_KEYS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("python", "three"),
        ("platform", "linux/s390x"),
        ("venv", "relative/venv"),
        ("base_repo", "UPPER"),
        ("heavy_threshold", "big"),
        ("glibc", "2"),
    ],
)
def test_bad_flag_names_the_flag(field, value):
    with pytest.raises(ConfigError) as info:
        load_config(None, {field: value})
    assert str(info.value).startswith(f"--{FIELD_TO_KEY[field]}: ")


def test_unknown_key_names_the_key_and_lists_known():
    with pytest.raises(ConfigError) as info:
        load_config({"heavy-treshold": "1GB"})
    message = str(info.value)
    assert message.startswith("tool.uvbuild.heavy-treshold: unknown setting")
    assert "heavy-threshold" in message


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("\n", 'tool.uvbuild."\\n"'),
        ("a b", 'tool.uvbuild."a b"'),
        ("\u202e", 'tool.uvbuild."\\u202e"'),
    ],
)
def test_an_odd_unknown_key_is_quoted_on_one_line(key, shown):
    # found by tests/planner/test_plan_fuzz.py: a key with a newline made a two-line error
    with pytest.raises(ConfigError) as info:
        load_config({key: 1})
    message = str(info.value)
    assert message.startswith(f"{shown}: unknown setting")
    assert len(message.splitlines()) == 1


def test_an_odd_layer_group_name_is_quoted():
    with pytest.raises(ConfigError) as info:
        load_config({"layers": {"gpu\n": ["nvidia-*"]}})
    assert str(info.value).startswith('tool.uvbuild.layers."gpu\\n": a group name is')


@pytest.mark.parametrize(
    ("key", "value"), [("python", "3.\u0661\u0661"), ("glibc", "2.\u0662\u0668")]
)
def test_versions_take_ascii_digits_only(key, value):
    # Arabic-Indic digits match \d and int() reads them, but no image is tagged with them
    with pytest.raises(ConfigError, match=rf"^tool\.uvbuild\.{key}: expected"):
        load_config({key: value})


def test_table_must_be_a_table():
    with pytest.raises(ConfigError) as info:
        load_config(["not", "a", "table"])  # type: ignore[arg-type]
    assert str(info.value).startswith("tool.uvbuild: ")


def test_custom_prefix():
    with pytest.raises(ConfigError) as info:
        load_config({"nope": 1}, prefix="tool.other")
    assert str(info.value).startswith("tool.other.nope: ")


@pytest.mark.parametrize("value", ["team/base:latest", "registry:5000/team/base:v1"])
def test_base_repo_takes_no_tag(value):
    with pytest.raises(ConfigError, match=r"^tool\.uvbuild\.base-repo: .*no tag"):
        load_config({"base-repo": value})


def test_base_repo_may_name_a_registry_port():
    assert load_config({"base-repo": "127.0.0.1:5000/team/base"}).base_repo == (
        "127.0.0.1:5000/team/base"
    )


# -- index-credentials -------------------------------------------------------------------


def test_index_credentials_from_table_and_flag():
    assert load_config({}).index_credentials == ()
    assert load_config({"index-credentials": ["synth", "corp.pkgs"]}).index_credentials == (
        "synth",
        "corp.pkgs",
    )
    config = load_config(
        {"index-credentials": ["synth"]}, {"index_credentials": ("other", "other")}
    )
    assert config.index_credentials == ("other",)  # the flag replaces; duplicates dropped


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("synth", "expected an array of strings"),
        (["bad name"], "is not an index name"),
        (["-x"], "is not an index name"),
    ],
)
def test_index_credentials_errors_name_the_key(value, message):
    with pytest.raises(ConfigError, match=rf"tool\.uvbuild\.index-credentials: .*{message}"):
        load_config({"index-credentials": value})


def test_heavy_flag_extends_the_configured_list_and_other_flags_replace():
    config = load_config(
        {"heavy": ["fake-torch"], "extras": ["cpu"]}, {"heavy": ("my-big",), "extras": ("gpu",)}
    )
    assert config.heavy == ("fake-torch", "my-big")
    assert config.extras == ("gpu",)
