"""Bad input: one line naming the file and the field, exit 2, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from turnproof.specs.loader import InputError, load_design, load_scenario

GOOD_PROMPT = '[[prompt]]\nname = "U1"\n'


def check_fails(cli, tmp_path, kind: str, body: str, *needles: str):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    args = (
        ["--design", str(path), "--scenario", "tool-race"]
        if kind == "design"
        else ["--design", "v1.15.4", "--scenario", str(path)]
    )
    from click.testing import CliRunner
    from turnproof.cli.main import main

    r = CliRunner().invoke(main, ["check", *args])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("turnproof: error: ")
    assert "Traceback" not in r.output
    for n in (str(path),) + needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.parametrize(
    "body,needles",
    [
        ('binding = "sometimes"\n', ("binding", "'sometimes' is not one of iteration, turn")),
        ('lock = "global"\n', ("lock: unknown field", "allowed: description, binding, guard, overlap")),
        ("binding = 3\n", ("binding: expected a string",)),
        ("binding = \n", ("not valid TOML",)),
    ],
)
def test_bad_design_files(cli, tmp_path, body, needles):
    check_fails(cli, tmp_path, "design", body, *needles)


@pytest.mark.parametrize(
    "body,needles",
    [
        ("max_messages = 5\n", ("prompt: at least one [[prompt]]",)),
        ("max_messages = 0\n" + GOOD_PROMPT, ("max_messages: 0 is out of range",)),
        ("max_messages = 99999\n" + GOOD_PROMPT, ("max_messages: 99999 is out of range (1 to 200)",)),
        ('granularity = "cycle"\n' + GOOD_PROMPT, ("granularity: 'cycle' is not one of await, effect",)),
        ('[[prompt]]\nclient = "web"\n', ("prompt[1].name: missing",)),
        (GOOD_PROMPT + 'route = "email"\n', ("prompt[1].route: 'email' is not one of",)),
        (GOOD_PROMPT + 'colour = "red"\n', ("prompt[1].colour: unknown field",)),
        (GOOD_PROMPT + GOOD_PROMPT, ("prompt[2].name: 'U1' is used twice",)),
        ('[[prompt]]\nname = "r1"\n', ("prompt[1].name: 'r1' must be",)),
        (GOOD_PROMPT + 'after = ["U9"]\n', ("prompt[1].after: 'U9' is not an earlier prompt",)),
        (GOOD_PROMPT + 'route = "shell"\ntools = 1\n', ("prompt[1].tools: a shell request calls no model",)),
        (GOOD_PROMPT + "tools = -1\n", ("prompt[1].tools: -1 is out of range",)),
        (GOOD_PROMPT + "tools = true\n", ("prompt[1].tools: expected a whole number",)),
        (GOOD_PROMPT + 'no_reply = "yes"\n', ("prompt[1].no_reply: expected true or false",)),
        (GOOD_PROMPT + "clock = 3\n", ('prompt[1].clock: only a prompt with id = "client"',)),
        (
            GOOD_PROMPT + 'id = "client"\nclock = "fast"\n',
            ("prompt[1].clock: 'fast' is not one of equal, behind, ahead",),
        ),
        (GOOD_PROMPT + 'id = "client"\nclock = 99\n', ("prompt[1].clock: 99 is out of range (-20 to 20)",)),
        (GOOD_PROMPT + 'id = "random"\n', ("prompt[1].id: 'random' is not one of server, client, after-all",)),
        (GOOD_PROMPT + 'route = "abort"\nid = "client"\n', ("prompt[1].id: only a prompt, prompt_async or shell",)),
        (GOOD_PROMPT + 'route = "shell"\nhook = true\n', ("prompt[1].hook: only a prompt or prompt_async",)),
        (GOOD_PROMPT + 'parts = "image"\n', ("prompt[1].parts: 'image' is not one of text, agent, file, mcp",)),
        (GOOD_PROMPT + 'hook = "yes"\n', ("prompt[1].hook: expected true or false",)),
        ("step_back_after = 2\n" + GOOD_PROMPT, ("step_back_by: step_back_after and step_back_by go together",)),
        ("wrap_after = -1\n" + GOOD_PROMPT, ("wrap_after: -1 is out of range",)),
        (GOOD_PROMPT + "no_reply = true\ntools = 1\n", ("prompt[1].no_reply: only a prompt or prompt_async",)),
    ],
)
def test_bad_scenario_files(cli, tmp_path, body, needles):
    check_fails(cli, tmp_path, "scenario", body, *needles)


def test_unknown_builtin_names(cli):
    for args in (["--design", "v9", "--scenario", "tool-race"], ["--design", "v1.15.4", "--scenario", "nope"]):
        r = cli("check", *args)
        assert r.exit_code == 2 and "no such" in r.output and "built-in:" in r.output


def test_usage_errors_exit_2(cli):
    assert cli("check", "--design", "v1.15.4").exit_code == 2
    assert cli("check", "--design", "v1.15.4", "--scenario", "tool-race", "--granularity", "x").exit_code == 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_loaders_never_crash_on_arbitrary_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "x.toml"
    path.write_text(text, encoding="utf-8")
    for load in (load_design, load_scenario):
        try:
            load(str(path))
        except InputError as e:
            assert str(path) in str(e) and "\n" not in str(e)
