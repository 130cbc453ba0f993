"""The verdict alone, as cheaply as it can be had soundly: does a design violate a property here?

`turnproof repair` asks this of hundreds of designs and needs only a yes (with one violation
to show) or a no, never every property's shortest trace nor the statistics of the whole space.
dpor stops at the first violation of any property (`first`); where it cannot judge
loop-terminates (the bound cut steps and its reduced graph holds no fair cycle), bfs judges it,
as `--strategy auto` does. `violated` answers which of the properties are violated at all.
"""

from __future__ import annotations

from turnproof.explore.search.bfs import bfs
from turnproof.explore.search.dpor import dpor_search
from turnproof.explore.search.result import Result
from turnproof.model.system import System
from turnproof.specs.properties import Property


def refute(system: System, properties: tuple[Property, ...], progress=None) -> Result:
    """A result with at least one finding when some property is violated, else none (and nothing
    unjudged): dpor stopped at its first violation, bfs for what dpor could not judge."""
    res = dpor_search(system, properties, progress, first=True)
    if res.findings:
        res.unjudged = {}  # (what the stop left unjudged: the verdict is known without it)
        return res
    if not res.unjudged:
        return res
    return _judge_rest(res, properties, progress)


def violated(system: System, properties: tuple[Property, ...], progress=None) -> Result:
    """A result whose findings name every violated property (their traces the shortest within
    dpor's explored graph): dpor stops once all are violated, bfs judges what it could not."""
    names = frozenset(p.name for p in properties)
    res = dpor_search(system, properties, progress, until=names)
    if not res.unjudged:
        return res
    return _judge_rest(res, properties, progress)


def _judge_rest(res: Result, properties: tuple[Property, ...], progress) -> Result:
    """bfs, the reference, for the properties dpor left unjudged."""
    rest = tuple(p for p in properties if p.name in res.unjudged)
    more = bfs(res.system, rest, progress)
    res.findings |= more.findings
    res.unjudged = {}
    return res
