"""Checkers over a `model.system.System`: exhaustive search, traces and their pictures."""
