"""Search strategies and what they share: the result, traces, fingerprints, liveness, replay.

`strategy.search(system, properties, Options(...))` picks one; each strategy takes the system, the
properties and one `Options` and returns a `result.Result`.
May import: `turnproof.model`, `turnproof.specs`.
"""
