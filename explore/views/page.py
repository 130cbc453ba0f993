"""A self-contained step-through page: message tree, sequence diagram and guard beside the narration.

One HTML file, SVGs inlined, no network: the tree is drawn after every step (the messages the
step wrote or changed marked), the sequence diagram once with the current step highlighted, and
the guard (each instance's runner map and each runner's state) after every step, what the step
changed highlighted: the two-loop counterexamples happen there. Previous/next buttons and the
arrow keys move through the steps; `#step=N` in the address opens step N. A legend names the
outlines and fills; each loop head says why the loop goes round or stops (explore/views/why.py).
Everything is replayed from the schedule, so trace files written before the guard was recorded
still make a page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import graphviz
from turnproof.explore.search.confirm import system_of
from turnproof.explore.search.trace import guard, replay
from turnproof.explore.views.explain import actors
from turnproof.explore.views.graphs import message_tree, sequence, sequence_dot, tree_dot
from turnproof.explore.views.why import gloss, reasons
from turnproof.specs.loader import InputError


def _svg(d) -> str:
    return _svgs([d])[0]


def _svgs(graphs: list) -> list[str]:
    """Each graph as an inline <svg>, drawn by one run of graphviz's dot (a page has a tree per step)."""
    if not graphs:
        return []
    out = graphviz.pipe("dot", "svg", "\n".join(d.source for d in graphs).encode("utf-8")).decode("utf-8")
    svgs = [part[: part.index("</svg>") + len("</svg>")] for part in out.split("<svg")[1:]]
    if len(svgs) != len(graphs):
        raise RuntimeError(f"dot drew {len(svgs)} pictures for {len(graphs)} graphs")
    return ["<svg" + svg for svg in svgs]


def write_page(doc: dict, path: Path) -> None:
    """Replay the trace's schedule and write the page; InputError when it no longer replays."""
    system = system_of(doc)
    try:
        trace = replay(system, doc["schedule"])
    except ValueError as e:
        raise InputError(f"{doc['property']}: the trace no longer replays: {e}") from None
    title = f"{doc['design']} × {doc['scenario']}: {doc['property']}"
    dots, before = [], trace.initial
    for i, (_, after) in enumerate(trace.steps, 1):
        old = {m.id: m for m in before.store.messages}
        changed = tuple(m.id for m in after.store.messages if old.get(m.id) != m)
        dots.append(tree_dot(message_tree(after, changed), f"after step {i}"))
        before = after
    trees = _svgs(dots)
    seq = sequence_dot(sequence(trace), title)
    for i in range(1, len(trace) + 1):
        seq.body = [line.replace(f"\ts{i} [", f'\ts{i} [id="step-{i}" ', 1) for line in seq.body]
    why = reasons(system, [s["fiber"] for s in doc["steps"]])
    steps = [
        {
            "fiber": s["fiber"],
            "why": why.get(s["step"], ""),
            "events": [
                {"says": e["says"], "source": e["source"], "gloss": gloss(e["action"], system.design)}
                for e in s["events"]
            ],
        }
        for s in doc["steps"]
    ]
    guards = [guard(trace.initial)] + [guard(after) for _, after in trace.steps]  # guards[i]: after step i
    shape = doc["property"].startswith("shape:")
    data = {
        "title": title,
        "violation": doc["violation"],
        "shape": shape,
        "steps": steps,
        "trees": trees,
        "actors": actors(doc),
    }
    data["guards"] = guards
    if doc.get("lasso"):
        data["cycle_from"] = doc["lasso"]["cycle_from"]
    page = TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__SEQUENCE__", _svg(seq))
    page = page.replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    path.write_text(page, encoding="utf-8")


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0; color: #111827; }
 header { padding: 12px 20px; background: #f3f4f6; border-bottom: 1px solid #d1d5db; }
 header h1 { font-size: 18px; margin: 0 0 4px; } header p { margin: 0; color: #b91c1c; }
 #controls { display: flex; gap: 12px; align-items: center; padding: 10px 20px; }
 button { font-size: 14px; padding: 4px 14px; }
 main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.4fr) minmax(240px, 0.55fr); gap: 12px;
   padding: 0 20px; }
 .pane { border: 1px solid #d1d5db; border-radius: 6px; overflow: auto; max-height: 62vh; padding: 6px; }
 #tree svg { max-width: 100%; height: auto; }
 #sequence svg { max-width: none; height: auto; }  /* drawn at its own size (10 pt text), scrolled to the step */
 #legend { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0 20px 8px; font-size: 13px; color: #374151; }
 #legend span.key { display: inline-block; width: 16px; height: 12px; vertical-align: middle; margin-right: 5px;
   border-radius: 2px; }
 .why { color: #1e3a8a; background: #eff6ff; padding: 4px 8px; border-radius: 4px; }
 #narration { padding: 10px 20px 24px; }
 #narration li { margin-bottom: 6px; } .src { color: #6b7280; font-size: 12px; }
 .gloss { color: #374151; font-style: italic; }
 .current polygon, .current path { stroke: #dc2626 !important; stroke-width: 4px !important; fill: #fef9c3 !important; }
 #actors { color: #374151; font-size: 13px; margin: 0; padding: 0 20px 0 36px; }
 #guard h3 { font-size: 14px; margin: 4px 0 6px; } #guard p { font-size: 12px; color: #6b7280; margin: 4px 0 10px; }
 #guard table { border-collapse: collapse; font-size: 13px; margin-bottom: 12px; width: 100%; }
 #guard th, #guard td { border: 1px solid #e5e7eb; padding: 3px 6px; text-align: left; }
 #guard th { background: #f9fafb; font-weight: 600; }
 #guard tr.changed td { background: #fef9c3; font-weight: 600; }
 #guard tr.changed td:first-child { border-left: 4px solid #dc2626; }
</style></head>
<body>
<header><h1>__TITLE__</h1><p id="violation"></p></header>
<ul id="actors"></ul>
<div id="controls"><button id="prev">&larr; previous</button><button id="next">next &rarr;</button>
 <span id="counter"></span><span class="src">(arrow keys work too)</span></div>
<div id="legend">
 <span><span class="key" style="border: 3px solid #dc2626; background: #fff"></span>red outline (tree): a message
  this step wrote or changed</span>
 <span><span class="key" style="border: 3px solid #dc2626; background: #fef9c3"></span>red outline, yellow fill
  (sequence): the current step</span>
 <span><span class="key" style="background: #fef9c3; border-left: 4px solid #dc2626"></span>yellow row (guard):
  what this step changed</span>
 <span><span class="key" style="background: #dbeafe"></span>user</span>
 <span><span class="key" style="background: #ffedd5"></span>finish tool-calls</span>
 <span><span class="key" style="background: #dcfce7"></span>finish stop</span>
 <span><span class="key" style="background: #f3f4f6"></span>no finish yet</span>
 <span><span class="key" style="background: #fee2e2"></span>aborted</span>
 <span>Open a step directly: add <code>#step=N</code> to the address.</span>
</div>
<main><div class="pane" id="tree"></div><div class="pane" id="sequence">__SEQUENCE__</div>
 <div class="pane" id="guard"></div></main>
<section id="narration"></section>
<script id="data" type="application/json">__DATA__</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
let current = 1;
const esc = s => s.replace(/[&<>]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'}[c]));
document.getElementById('violation').textContent = (data.shape ? 'The shape: ' : 'What goes wrong: ') + data.violation;
document.getElementById('actors').innerHTML = data.actors.map(a => '<li>' + esc(a) + '</li>').join('');
function show(i) {
  current = Math.max(1, Math.min(data.steps.length, i));
  const step = data.steps[current - 1];
  document.getElementById('counter').textContent = 'step ' + current + ' of ' + data.steps.length +
    (data.cycle_from && current >= data.cycle_from ? ' (in the cycle that repeats for ever)' : '');
  document.getElementById('tree').innerHTML = data.trees[current - 1];
  document.querySelectorAll('#sequence .current').forEach(e => e.classList.remove('current'));
  const node = document.getElementById('step-' + current);
  if (node) { node.classList.add('current'); node.scrollIntoView({block: 'nearest', inline: 'nearest'}); }
  document.getElementById('narration').innerHTML = '<h2>' + current + '. ' + esc(step.fiber) + '</h2><ul>' +
    step.events.map(e => '<li>' + esc(e.says) + ' <span class="src">' + esc(e.source) + '</span>' +
      (e.gloss ? '<br><span class="gloss">' + esc(e.gloss) + '</span>' : '') + '</li>').join('') + '</ul>' +
    (step.why ? '<p class="why"><b>Why:</b> ' + esc(step.why) + '</p>' : '') +
    (current === data.steps.length ? '<p><b>' + (data.shape ? 'Here the shape is there:' : 'Here it breaks:') +
      '</b> ' + esc(data.violation) + '</p>' : '');
  document.getElementById('guard').innerHTML = guardTable(data.guards[current - 1], data.guards[current]);
  document.body.dataset.step = current;
  if (location.hash !== '#step=' + current) history.replaceState(null, '', '#step=' + current);
}
function fromHash() {
  const m = /^#step=([0-9]+)$/.exec(location.hash);
  return m ? parseInt(m[1], 10) : 1;
}
window.addEventListener('hashchange', () => show(fromHash()));
function guardTable(before, after) {
  const runner = i => i === null ? 'no entry' : 'runner #' + i;
  const row = (changed, cells) => '<tr' + (changed ? ' class="changed"' : '') + '>' +
    cells.map(c => '<td>' + esc(String(c)) + '</td>').join('') + '</tr>';
  const maps = after.maps.map((m, i) => row(before.maps[i] !== m, ['instance ' + i, runner(m)]));
  const runners = after.runners.map(r => {
    const old = before.runners[r.runner];
    return row(!old || old.state !== r.state, ['#' + r.runner, 'instance ' + r.instance, r.state]);
  });
  return '<h3>Guard after this step</h3><p>Highlighted: what this step changed.</p>' +
    '<table id="maps"><tr><th>runner map</th><th>session entry</th></tr>' + maps.join('') + '</table>' +
    '<table id="runners"><tr><th>runner</th><th>made by</th><th>state</th></tr>' +
    (runners.length ? runners.join('') : '<tr><td colspan="3">none yet</td></tr>') + '</table>';
}
document.getElementById('prev').onclick = () => show(current - 1);
document.getElementById('next').onclick = () => show(current + 1);
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight') show(current + 1);
  if (e.key === 'ArrowLeft') show(current - 1);
});
show(fromHash());
</script></body></html>
"""
