"""The checkers: searches over a `turnproof.model.system.System`, the machinery that scales them,
and the views that show their results.

- `search/` — the strategies (bfs, dpor, sleep, naive, preemption-bounded, random), liveness,
  minimal traces, replay; may import `model` and `specs`.
- `scale/` — fingerprints' partners: symmetry, partitioned bfs over processes or Dask, the
  options that pick them; may import `search/`, `model`, `specs`.
- `repair.py` — the least change from a base design that holds everywhere asked, and why;
  may import `search/`, `model`, `specs`.
- `views/` — text report, JSON, graphs, the step-through page, the state graph, explanations;
  may import `search/`, `model`, `specs` (not `scale/`'s engines).
Nothing here imports `turnproof.audit`, `turnproof.conform` or `turnproof.cli`.
"""
