"""stilts-prepare: raw files -> checked examples -> encoded, binarized data folders with a manifest."""
