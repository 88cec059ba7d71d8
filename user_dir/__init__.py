"""Pass ``--user-dir user_dir`` to fairseq: it loads the installed fairseq_stilts plugin."""

import fairseq_stilts  # noqa: F401
