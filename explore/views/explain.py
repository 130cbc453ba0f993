"""A counterexample in plain words, for someone who has never read opencode's code.

Works from a trace.json (what `check` writes), so an explanation can be made on another
machine, later, from the file alone.
"""

from __future__ import annotations

from turnproof.explore.search.confirm import system_of
from turnproof.explore.views.glossary import STEPS
from turnproof.explore.views.why import gloss, reasons
from turnproof.model import steps
from turnproof.model.system import System
from turnproof.specs.loader import InputError

TESTS = ("loop.read", "loop.exit", "v2.continue", "v2.queue_next")  # the events after which a test is told


def actors(doc: dict) -> list[str]:
    """Who the fibers in the trace are."""
    names: list[str] = []
    for step in doc["steps"]:
        if step["fiber"] not in names:
            names.append(step["fiber"])
    out = []
    for name in names:
        if steps.is_loop_fiber(name):
            out.append(f"{name}: a prompt loop (runLoop), started by a client's request")
        elif steps.is_tool_fiber(name):
            out.append(f"{name}: the tool call loop r{name[1:]} was running when it was aborted")
        else:
            first = next(s for s in doc["steps"] if s["fiber"] == name)
            out.append(f"{name}: a client request — {first['events'][0]['says']}")
    return out


def narrate(doc: dict) -> list[str]:
    """The trace as paragraphs: actors, then each step with its source line, once what it means
    under the design that ran, and at every loop head why the loop goes round or stops."""
    system = _system(doc)
    why = _reasons(system, doc)
    shape = doc["property"].startswith("shape:")
    opencode = doc.get("opencode", "v1.15.4")
    where = f"design {doc['design']} × scenario {doc['scenario']} (opencode {opencode})"
    lines = (
        [f"How {where} reaches the seed's {doc['property'][6:]} shape.", f"The shape: {doc['violation']}."]
        if shape
        else [f"Counterexample for '{doc['property']}' on {where}.", f"What goes wrong: {doc['violation']}."]
    )
    if system is None:
        lines.append("(the design or scenario no longer loads or replays: the loop's tests are not told)")
    lines += ["", "Who takes part:", *[f"  - {a}" for a in actors(doc)], ""]
    lines.append(f"Step by step ({STEPS.get(doc.get('granularity', 'await'), STEPS['await'])}):")
    glossed: set[str] = set()
    cycle = doc.get("lasso", {}).get("cycle_from")
    design = system.design if system else None
    for step in doc["steps"]:
        if cycle and step["step"] == cycle:
            lines += ["", "From here the steps repeat for ever (the loop never stops):"]
        lines.append("")
        lines.append(f"{step['step']}. {step['fiber']}:")
        told = False
        for e in step["events"]:
            lines.append(f"   - {e['says']}  ({e['source']})")
            if e["action"] in TESTS and step["step"] in why and not told:
                told = True
                lines.append(f"     Why: {why[step['step']]}")
                if e["action"].startswith("loop.") and "loop.exit" not in glossed:  # the rule, said once
                    glossed.add("loop.exit")
                    lines.append(f"     Why it matters: {gloss('loop.exit', design)}")
            meaning = gloss(e["action"], design)
            if e["action"] not in glossed and meaning:
                glossed.add(e["action"])
                lines.append(f"     Why it matters: {meaning}")
    end = doc["steps"][-1]["step"]
    lines += ["", f"After step {end}: {'the shape is there: ' if shape else ''}{doc['violation']}."]
    if cycle:
        lines.append(f"Steps {cycle} to {end} come back to the state step {cycle} began from, so they repeat for ever.")
    lines += ["", "The messages at the end:"]
    lines += [f"  {m}" for m in tree_lines(doc["steps"][-1]["messages"])]
    return lines


def _system(doc: dict) -> System | None:
    """The design and scenario the trace ran on, or None when they no longer load."""
    try:
        return system_of(doc)
    except InputError:
        return None


def _reasons(system: System | None, doc: dict) -> dict[int, str]:
    if system is None:
        return {}
    try:
        return reasons(system, [s["fiber"] for s in doc["steps"]])
    except (ValueError, KeyError):  # the schedule no longer applies: replay says where
        return {}


def tree_lines(messages: list[dict]) -> list[str]:
    """The final message tree as indented text: each user message with the assistants under it."""
    out = []
    for u in (m for m in messages if m["role"] == "user"):
        out.append(f"{u['label']} (user, id {u['id']})")
        for a in (m for m in messages if m["role"] == "assistant" and m["parent"] == u["label"]):
            tools = f", tools {', '.join(a['tools'])}" if a["tools"] else ""
            out.append(f"  └ {a['label']} (assistant, finish {a['finish'] or 'none yet'}{tools}, by {a['by']})")
    return out
