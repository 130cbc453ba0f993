"""Building a design into opencode: its release's bundle, read from the Bun executable, with the
design's knob values applied as anchored text edits (`edits`), run under the release's own Bun.

`bundle` reads the executable's module graph, `edits` picks and applies a design's edits,
`edits_loop` / `edits_runner` hold them, `patch` builds and caches a runnable folder.

May import: `turnproof.model`, `turnproof.specs`, `turnproof.conform`; never the CLI.
"""
