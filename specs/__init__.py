"""What must hold: the properties and shapes checked on the model, and the design/scenario files.

Lives here: `properties`, `shapes`, `loader` (TOML designs and scenarios, validated), and the
built-in `designs/` and `scenarios/` as package data.
May import: `turnproof.model`.
"""
