"""A self-contained step-through page: message tree and sequence diagram beside the narration.

One HTML file, SVGs inlined, no network: the tree is drawn after every step (the messages the
step wrote or changed marked), the sequence diagram once with the current step highlighted.
Previous/next buttons and the arrow keys move through the steps.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from turnproof.explore.search.confirm import system_of
from turnproof.explore.search.trace import replay
from turnproof.explore.views.explain import GLOSS, actors
from turnproof.explore.views.graphs import message_tree, sequence, sequence_dot, tree_dot
from turnproof.specs.loader import InputError


def _svg(d) -> str:
    svg = d.pipe(format="svg").decode("utf-8")
    return svg[svg.index("<svg") :]


def write_page(doc: dict, path: Path) -> None:
    """Replay the trace's schedule and write the page; InputError when it no longer replays."""
    system = system_of(doc)
    try:
        trace = replay(system, doc["schedule"])
    except ValueError as e:
        raise InputError(f"{doc['property']}: the trace no longer replays: {e}") from None
    title = f"{doc['design']} × {doc['scenario']}: {doc['property']}"
    trees, before = [], trace.initial
    for i, (_, after) in enumerate(trace.steps, 1):
        old = {m.id: m for m in before.store.messages}
        changed = tuple(m.id for m in after.store.messages if old.get(m.id) != m)
        trees.append(_svg(tree_dot(message_tree(after, changed), f"after step {i}")))
        before = after
    seq = sequence_dot(sequence(trace), title)
    for i in range(1, len(trace) + 1):
        seq.body = [line.replace(f"\ts{i} [", f'\ts{i} [id="step-{i}" ', 1) for line in seq.body]
    steps = [
        {
            "fiber": s["fiber"],
            "events": [
                {"says": e["says"], "source": e["source"], "gloss": GLOSS.get(e["action"], "")} for e in s["events"]
            ],
        }
        for s in doc["steps"]
    ]
    data = {"title": title, "violation": doc["violation"], "steps": steps, "trees": trees, "actors": actors(doc)}
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
 main { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; padding: 0 20px; }
 .pane { border: 1px solid #d1d5db; border-radius: 6px; overflow: auto; max-height: 62vh; padding: 6px; }
 .pane svg { max-width: 100%; height: auto; }
 #narration { padding: 10px 20px 24px; }
 #narration li { margin-bottom: 6px; } .src { color: #6b7280; font-size: 12px; }
 .gloss { color: #374151; font-style: italic; }
 .current polygon, .current path { stroke: #dc2626 !important; stroke-width: 4px !important; fill: #fef9c3 !important; }
 #actors { color: #374151; font-size: 13px; margin: 0; padding: 0 20px 0 36px; }
</style></head>
<body>
<header><h1>__TITLE__</h1><p id="violation"></p></header>
<ul id="actors"></ul>
<div id="controls"><button id="prev">&larr; previous</button><button id="next">next &rarr;</button>
 <span id="counter"></span><span class="src">(arrow keys work too)</span></div>
<main><div class="pane" id="tree"></div><div class="pane" id="sequence">__SEQUENCE__</div></main>
<section id="narration"></section>
<script id="data" type="application/json">__DATA__</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
let current = 1;
const esc = s => s.replace(/[&<>]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'}[c]));
document.getElementById('violation').textContent = 'What goes wrong: ' + data.violation;
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
    (current === data.steps.length ? '<p><b>Here it breaks:</b> ' + esc(data.violation) + '</p>' : '');
  document.body.dataset.step = current;
}
document.getElementById('prev').onclick = () => show(current - 1);
document.getElementById('next').onclick = () => show(current + 1);
document.addEventListener('keydown', e => {
  if (e.key === 'ArrowRight') show(current + 1);
  if (e.key === 'ArrowLeft') show(current - 1);
});
show(1);
</script></body></html>
"""
