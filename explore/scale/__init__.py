"""Scaling bfs: symmetry reduction, partitioned search over worker processes or Dask, and the
`options.Scale` a user picks them with.

May import: `turnproof.explore.search`, `turnproof.model`, `turnproof.specs`.
"""
