"""Data: preparation of data folders (``prepare/``) and the datasets tasks read them with (``datasets/``)."""
