"""``/api/...``: the JSON the pages use (documented in the README)."""
