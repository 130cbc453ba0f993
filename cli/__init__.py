"""The `turnproof` command line, on top of everything: check, replay, explain, review, conform, audit.

May import: every other turnproof package. Nothing imports it.
"""
