"""Raw files -> examples -> encoded, binarized fairseq data folders."""
