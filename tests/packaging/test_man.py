"""The manual pages match the program key by key and option by option, and
render without a warning."""

import os
import re
import subprocess

import pytest

from conftest import TOP, need_tool, run

CONFIG_C = os.path.join(TOP, "agent", "config-keys.c")
CONFIG_VALUE_C = os.path.join(TOP, "agent", "config-value.c")


@pytest.fixture(scope="module")
def pages(build_dir):
    paths = {name: os.path.join(build_dir, "man", name) for name in ("nodeagent.8", "nodeagent.conf.5")}
    for path in paths.values():
        assert os.path.exists(path), f"{path} is not built (meson compile)"
    return paths


def text_of(path):
    """The page's words without troff escapes: \\- is -, \\fB is gone."""
    with open(path) as f:
        t = f.read()
    t = re.sub(r"\\f[BIRP]", "", t)
    return t.replace("\\-", "-").replace("\\(bu", "").replace("\\ ", " ")


def config_keys():
    """(Section, Key) of every entry in config-keys.c's key table."""
    with open(CONFIG_C) as f:
        src = f.read()
    keys = re.findall(r"KEY\((NODE|VOLUME|INTERFACE|DNS|SIGNAL),\s*\"(\w+)\"", src)
    names = {"NODE": "Node", "VOLUME": "Volume", "INTERFACE": "Interface", "DNS": "DNS", "SIGNAL": "Signal"}
    assert len(keys) >= 20, "the key table's shape changed: update this test"
    return [(names[s], k) for s, k in keys]


def sections_of_conf_page(path):
    """{Section: text of its .SH [SECTION] SECTION}."""
    text = text_of(path)
    parts = re.split(r"^\.SH \[(\w+)\] SECTION$", text, flags=re.M)
    return {parts[i].upper(): parts[i + 1].split("\n.SH ")[0] for i in range(1, len(parts), 2)}


def test_every_config_key_is_in_nodeagent_conf_5_under_its_section(pages):
    sections = sections_of_conf_page(pages["nodeagent.conf.5"])
    missing = []
    for section, key in config_keys():
        body = sections.get(section.upper(), "")
        # Each key is the tag of its own .TP paragraph: ".BI Key= value".
        if not re.search(rf"^\.TP\n\.(?:BI|BR|B) {key}=", body, flags=re.M):
            missing.append(f"[{section}] {key}=")
    assert missing == []


def enum_keys():
    """(Section, Key, [value names]) of every enum key of the key table."""
    with open(CONFIG_C) as f:
        keys_src = f.read()
    with open(CONFIG_VALUE_C) as f:
        values_src = f.read()
    tables = {}
    for name, body in re.findall(r"DEFINE_ENUM_TABLE\((\w+),(.*?)\);", values_src, flags=re.S):
        tables[name] = re.findall(r'\] = "([^"]+)"', body)
    keys = re.findall(r"KEY\((\w+),\s*\"(\w+)\",\s*KEY_ENUM,[^;]*?\.enum_table = &(\w+)_table", keys_src)
    assert len(keys) >= 10, "the key table's shape changed: update this test"
    names = {"NODE": "Node", "VOLUME": "Volume", "INTERFACE": "Interface", "DNS": "DNS", "SIGNAL": "Signal"}
    return [(names[s], k, tables[t]) for s, k, t in keys]


def test_every_value_of_an_enum_key_is_in_nodeagent_conf_5(pages):
    sections = sections_of_conf_page(pages["nodeagent.conf.5"])
    missing = []
    for section, key, values in enum_keys():
        body = sections.get(section.upper(), "")
        m = re.search(rf"^\.TP\n\.(?:BI|BR|B) {key}=.*?(?=^\.TP$|\Z)", body, flags=re.M | re.S)
        paragraph = m.group(0) if m else ""
        for v in values:
            if not re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", paragraph):
                missing.append(f"[{section}] {key}={v}")
    assert missing == []


def test_every_section_of_the_parser_has_its_own_part(pages):
    sections = sections_of_conf_page(pages["nodeagent.conf.5"])
    assert set(sections) == {s.upper() for s, _ in config_keys()}


def help_options(nodeagent):
    out = run([nodeagent, "--help"]).stdout
    longs = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", out))
    shorts = set(re.findall(r"(?<![\w-])(-[a-z])\b", out))
    return longs, shorts


def test_every_option_of_help_is_in_nodeagent_8(pages, nodeagent):
    text = text_of(pages["nodeagent.8"])
    longs, shorts = help_options(nodeagent)
    assert {"--once", "--attach-only", "--detach", "--check", "--status", "--config", "--set", "--version",
            "--help"} <= longs
    documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text)) | set(re.findall(r"(?<![\w-])(-[a-z])\b", text))
    assert (longs | shorts) - documented == set()


def test_every_exit_status_is_in_nodeagent_8(pages):
    text = text_of(pages["nodeagent.8"])
    part = text.split(".SH EXIT STATUS")[1].split("\n.SH ")[0]
    assert re.findall(r"^\.B (\d)$", part, flags=re.M) == [str(i) for i in range(7)]


def test_environment_and_state_keys_are_in_nodeagent_8(pages):
    text = text_of(pages["nodeagent.8"])
    with open(os.path.join(TOP, "docs", "configuration.md")) as f:
        reference = f.read()
    names = set(re.findall(r"`(AWS_[A-Z0-9_]+|NODEAGENT_[A-Z_]+)`", reference))
    assert len(names) > 15
    assert {n for n in names if n not in text} == set()


@pytest.mark.parametrize("name", ["nodeagent.8", "nodeagent.conf.5"])
def test_renders_without_warnings(pages, name):
    need_tool("groff")
    r = run(["groff", "-man", "-ww", "-z", pages[name]])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if need_tool("man"):
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", pages[name]],
                env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0", "PAGER": "cat"})
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "nodeagent" in r.stdout


def test_pages_carry_the_project_version(pages, build_dir):
    out = run(["meson", "introspect", "--projectinfo", build_dir]).stdout
    version = re.search(r'"version":\s*"([^"]+)"', out).group(1)
    for path in pages.values():
        with open(path) as f:
            assert f'"nodeagent {version}"' in f.read()


def test_meson_installs_both_pages(build_dir, tmp_path):
    r = run(["meson", "install", "-C", build_dir, "--no-rebuild", "--destdir", str(tmp_path), "--quiet"],
            timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    found = {os.path.relpath(os.path.join(d, f), tmp_path) for d, _, fs in os.walk(tmp_path) for f in fs}
    assert any(p.endswith("share/man/man8/nodeagent.8") for p in found), found
    assert any(p.endswith("share/man/man5/nodeagent.conf.5") for p in found), found
    assert any(p.endswith("sbin/nodeagent") for p in found), found
