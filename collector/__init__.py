"""The hub's runtime: SSH connections, probing, parsing and rates."""
