"""fairseq-stilts: X-STILTs with XLM-R on XTREME as a fairseq plugin.

Importing the package registers the task families (their tasks and criteria), the multi-task
task, the models and the optimizer with fairseq, and makes fairseq checkpoints loadable under
torch's weights-only loading (:mod:`fairseq_stilts.plugin`). The stilts-* commands register it
themselves, after parsing their arguments.
"""

import sys
from pathlib import Path

from fairseq_stilts.runtime import __version__  # noqa: F401

if not Path(sys.argv[0] if sys.argv else "").name.startswith("stilts-"):
    from fairseq_stilts.plugin import register

    register()
