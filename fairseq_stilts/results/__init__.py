"""Results of a grid: the append-only store of evaluation rows and the report made from it."""
