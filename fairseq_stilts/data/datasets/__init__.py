"""The runtime fairseq datasets the tasks build on: length grouping, language sampling, row groups."""
