"""`turnproof explore`: the embedded state space against the real search and the property
functions, the command's exit codes, and the page driven in headless Chromium."""

from __future__ import annotations

import os
import stat
from collections import deque

import pytest
from click.testing import CliRunner
from conftest import system
from test_page import ARGS, BROWSER
from turnproof.cli.main import main
from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.trace import decode, guard, messages
from turnproof.explore.views.explorer import HOLDS, ON_CYCLES, PENDING, build, checks
from turnproof.specs.shapes import SHAPES

BIND = "bind-and-serialize"


@pytest.fixture(scope="module")
def spaces():
    """The page data of tool-race (beside bind-and-serialize) and of two-instances, built once."""
    tool_race = build(system("v1.15.4", "tool-race"), system(BIND, "tool-race"))
    return {"tool-race": tool_race, "two-instances": build(system("v1.15.4", "two-instances"))}


def paths(space: dict) -> dict[int, list[str]]:
    """A schedule to every embedded world, breadth-first over the embedded steps."""
    found, todo = {0: []}, deque([0])
    while todo:
        n = todo.popleft()
        for fiber, target, _, _ in space["worlds"][n]["e"]:
            if target is not None and target not in found:
                found[target] = found[n] + [fiber]
                todo.append(target)
    return found


@pytest.mark.parametrize("scenario", ["tool-race", "two-instances"])
def test_the_embedded_space_is_the_real_searchs(spaces, scenario):
    sys_ = system("v1.15.4", scenario)
    stats = bfs(sys_, ()).stats
    a = spaces[scenario]["spaces"][0]
    assert a["complete"] and a["explored"] == len(a["worlds"]) == stats.states
    steps = [e for w in a["worlds"] for e in w["e"]]
    assert len(steps) == stats.transitions
    assert sum(1 for e in steps if e[2] == "bound") == stats.cut and not any(e[2] == "cap" for e in steps)
    assert len(paths(a)) == stats.states  # every world is reached through the embedded steps
    assert spaces[scenario]["search"]["states"] == stats.states


@pytest.mark.parametrize("scenario", ["tool-race", "two-instances"])
def test_each_world_replays_and_each_status_is_the_property_functions(spaces, scenario):
    doc = spaces[scenario]
    a = doc["spaces"][0]
    sys_ = system("v1.15.4", scenario)
    named = checks()
    assert [p["name"] for p in doc["props"]] == [n for n, _, _ in named]
    violated = {n: 0 for n, _, _ in named}
    for n, schedule in paths(a).items():
        w = sys_.initial()
        for fiber in schedule:
            w = sys_.apply(w, fiber)[1]
        world = a["worlds"][n]
        assert [a["msgs"][i] for i in world["m"]] == messages(w)
        assert a["guards"][world["g"]] == guard(w)
        assert [e[0] for e in world["e"]] == [f.name for f in sys_.enabled(w)]
        for (name, _, p), s in zip(named, world["p"], strict=True):
            if p.when == "liveness":
                assert s == ON_CYCLES
            elif p.when == "at_rest" and world["e"]:
                assert s == PENDING
            else:
                v = p.check(w)
                assert (s == HOLDS) == (v is None)
                if v is not None:
                    violated[name] += 1
                    assert a["violations"][s][0] == v.says
    # tool-race breaks turn-binding in some worlds, never no-terminal-siblings; two-instances reaches the shape
    assert violated["turn-binding"] > 0
    assert (violated["no-terminal-siblings"] > 0) == (scenario == "two-instances")
    assert (violated["four-siblings"] > 0) == (scenario == "two-instances")


def test_the_jumps_are_the_real_bfs_shortest_counterexamples(spaces):
    for scenario, doc in spaces.items():
        sys_ = system("v1.15.4", scenario)
        res = bfs(sys_, tuple(p for _, _, p in checks()))
        a = doc["spaces"][0]
        for p, (name, _, prop) in zip(doc["props"], checks(), strict=True):
            f = res.findings.get(prop.name)
            assert ("cx" in p) == (f is not None)
            if f is None:
                continue
            assert p["cx"]["schedule"] == [s.fiber for s, _ in f.trace.steps]
            assert p["cx"]["violation"] == f.violation.says
            n = 0  # the schedule walks through embedded worlds to one where the page shows it violated
            for fiber in p["cx"]["schedule"]:
                n = next(e[1] for e in a["worlds"][n]["e"] if e[0] == fiber)
            if prop.when != "liveness":
                assert a["worlds"][n]["p"][[c[0] for c in checks()].index(name)] >= 0
    tool_race = {p["name"]: p for p in spaces["tool-race"]["props"]}
    assert tool_race["turn-binding"]["cx"]["schedule"] == decode("U1,r1,U2,r1*3")
    assert "cx" not in tool_race["no-terminal-siblings"] and "cx" not in tool_race["four-siblings"]


def test_a_cap_embeds_the_first_states_breadth_first_and_every_counterexample(tmp_path):
    doc = build(system("v1.15.4", "two-instances"), max_states=10)
    a = doc["spaces"][0]
    assert a["explored"] == 10 and not a["complete"]
    steps = [e for w in a["worlds"][:10] for e in w["e"]]
    assert any(e[2] == "cap" and e[1] is None for e in steps)
    shape = next(p for p in doc["props"] if p["name"] == "four-siblings")
    n = 0  # the counterexample's worlds are held past the cap
    for fiber in shape["cx"]["schedule"]:
        n = next(e[1] for e in a["worlds"][n]["e"] if e[0] == fiber)
        assert n is not None
    assert len(a["worlds"]) > 10 and doc["search"]["states"] == 1782


def test_a_search_past_its_budget_leaves_no_jumps_and_says_why(monkeypatch):
    monkeypatch.setattr("turnproof.explore.views.explorer.SEARCH_STATES", 100)
    doc = build(system("v1.15.4", "two-instances"), max_states=50)
    assert not any("cx" in p for p in doc["props"]) and doc["start"] is None
    assert "the state budget (100 states) is spent" in doc["search"]["stopped"] and doc["search"]["states"] > 100
    assert doc["spaces"][0]["explored"] == len(doc["spaces"][0]["worlds"]) == 50


def test_the_command_writes_a_self_contained_page_and_says_what_it_holds(tmp_path):
    out = tmp_path / "sub" / "explore.html"
    r = CliRunner().invoke(main, ["explore", "--design", "v1.15.4", "--scenario", "tool-race", "--html", str(out)])
    assert r.exit_code == 0, r.output
    assert (
        r.output.strip() == f"explorer page written to {out}: 43 states (the whole reachable space), 5 counterexamples"
    )
    text = out.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    assert "<script src" not in text and "<link" not in text and '"turn-binding"' in text
    assert [p.name for p in out.parent.iterdir()] == ["explore.html"]  # written whole: no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask  # an ordinary file, not mkstemp's private one
    r = CliRunner().invoke(main, ["explore", "--design", "v1.15.4", "--scenario", "two-instances", "--html", str(out)])
    assert r.exit_code == 0 and "1,782 states" in r.output


@pytest.mark.parametrize(
    "args, says",
    [
        (["--design", "nope"], "nope: no such design"),
        (["--scenario", "nope"], "nope: no such scenario"),
        (["--html", "/proc/no/such/page.html"], "--html /proc/no/such/page.html: cannot write"),
        (["--html", "/"], "--html /: cannot write: Is a directory"),
        (["--compare", "nope"], "nope: no such design"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, says):
    base = {"--design": "v1.15.4", "--scenario": "tool-race", "--html": str(tmp_path / "p.html")}
    base |= dict(zip(args[::2], args[1::2], strict=True))
    r = CliRunner().invoke(main, ["explore", *[x for kv in base.items() for x in kv]])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and says in r.output
    assert not (tmp_path / "p.html").exists()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore")
    files = {}
    for scenario, extra in (("tool-race", ["--compare", BIND]), ("two-instances", [])):
        files[scenario] = out / f"{scenario}.html"
        args = ["explore", "--design", "v1.15.4", "--scenario", scenario, "--html", str(files[scenario]), *extra]
        assert CliRunner().invoke(main, args).exit_code == 0
    return files


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert os.path.exists(BROWSER), "chromium is missing: ./run.sh test installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER, args=ARGS)
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def row(page, prop: str, side: int = 0) -> str:
    return page.get_attribute(f"#side{side} tr[data-prop='{prop}']", "class")


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_clicking_through_the_turn_binding_counterexample_fiber_by_fiber(pages, browser):
    page, errors = open_page(browser, pages["tool-race"].as_uri())
    assert page.evaluate("document.body.dataset.step") == "0" and row(page, "turn-binding") == "holds"
    for i, fiber in enumerate(decode("U1,r1,U2,r1*3"), 1):
        button = page.locator(f"#moves button.move[data-fiber='{fiber}']")
        assert button.count() == 1 and button.is_enabled()
        assert "packages/opencode/src/" in button.inner_text()  # the step's narration, with its source anchor
        button.click()
        assert page.evaluate("document.body.dataset.step") == str(i)
    assert row(page, "turn-binding") == "violated"
    flipped = page.evaluate("[...document.querySelectorAll('#side0 tr[data-flipped]')].map(r => r.dataset.prop)")
    assert flipped == ["turn-binding"]  # the one status the last step changed, in yellow
    assert "A2 continues the turn opened by U1 but its parentID is U2" in page.inner_text(
        "#side0 tr[data-prop='turn-binding']"
    )
    assert page.locator("#side0 .user-col[data-user='U2'] .kids .msg[data-label='A2']").count() == 1
    assert page.locator("#side0 .msg.named[data-label='A2']").count() == 1  # outlined: the property names it
    assert page.evaluate("location.hash") == "#schedule=U1,r1,U2,r1*3&step=6"
    # beside it, bind-and-serialize on the same schedule: U2 waits, A2 stays under U1, the property holds
    assert row(page, "turn-binding", 1) == "holds"
    assert page.locator("#side1 .user-col[data-user='U1'] .kids .msg[data-label='A2']").count() == 1
    page.click("#back")
    assert page.evaluate("document.body.dataset.step") == "5" and row(page, "turn-binding") == "holds"
    assert page.locator("#side0 .msg[data-label='A2']").count() == 0
    page.keyboard.press("ArrowRight")  # redo along the schedule
    assert row(page, "turn-binding") == "violated"
    sizes = page.evaluate(
        "[...document.querySelectorAll('body, #seq li, .msg, .src, button.move li, td')]"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 14
    assert "red border" in page.inner_text(".legend")
    page.goto(pages["tool-race"].as_uri() + "#step=2")  # a step of the schedule the page opens with
    assert page.evaluate("document.body.dataset.step") == "2" and "step 2 of 6" in page.inner_text("#where")
    assert not errors


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_the_four_sibling_shape_opens_from_the_url_and_by_the_jump(pages, browser):
    schedule = next(p for p in build(system("v1.15.4", "two-instances"))["props"] if p["name"] == "four-siblings")
    schedule = schedule["cx"]["schedule"]
    url = pages["two-instances"].as_uri()
    page, errors = open_page(browser, f"{url}#cx=four-siblings")
    assert page.evaluate("document.body.dataset.step") == str(len(schedule))
    terminal = "#side0 .user-col[data-user='W1'] .kids .msg.k-stop"
    assert page.locator(terminal).count() == 4 and row(page, "four-siblings") == "violated"
    page.goto(f"{url}#schedule=U1&step=0")
    page.select_option("#jump", "four-siblings")
    assert page.evaluate("document.body.dataset.step") == "0"
    page.click("#end")
    assert page.locator(terminal).count() == 4
    page.goto("about:blank")
    page.goto(f"{url}#schedule={','.join(schedule)}&step=3")
    assert page.evaluate("document.body.dataset.step") == "3" and page.locator(terminal).count() == 0
    assert "step 3 of 10" in page.inner_text("#where") and not errors


@pytest.mark.slow  # starts headless Chromium
@pytest.mark.skipif(os.environ.get("TURNPROOF_NO_BROWSER") == "1", reason="TURNPROOF_NO_BROWSER=1")
def test_the_page_says_where_the_schedule_stops_applying_on_the_second_design(pages, browser):
    a, b = system("v1.15.4", "tool-race"), system(BIND, "tool-race")
    found = None  # the first schedule (breadth-first) of v1.15.4 that bind-and-serialize cannot follow
    for schedule in sorted(paths(build(a)["spaces"][0]).values(), key=len):
        w = b.initial()
        for i, fiber in enumerate(schedule, 1):
            if fiber not in [f.name for f in b.enabled(w)]:
                found = (schedule, i, fiber)
                break
            w = b.apply(w, fiber)[1]
        if found:
            break
    assert found is not None
    schedule, at, fiber = found
    page, errors = open_page(browser, f"{pages['tool-race'].as_uri()}#schedule={','.join(schedule)}")
    text = page.inner_text("#side1 .stopped")
    assert f"On {BIND} this schedule stops applying at step {at}: {fiber} cannot move there" in text
    assert page.get_attribute("#side1", "data-steps") == str(at - 1) and not errors
    assert page.get_attribute("#side0", "data-steps") == str(len(schedule))


def test_shapes_are_named_as_check_names_them(spaces):
    names = [p["name"] for p in spaces["tool-race"]["props"] if p["kind"] == "shape"]
    assert names == list(SHAPES)
