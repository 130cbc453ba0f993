"""What turnproof checks (properties) and against what (designs and scenarios, as TOML files)."""
