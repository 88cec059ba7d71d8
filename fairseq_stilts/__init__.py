"""fairseq-stilts: X-STILTs with XLM-R on XTREME as a fairseq plugin.

Importing the package makes fairseq checkpoints loadable under torch's weights-only loading and
registers the task families (their tasks and criteria), the multi-task task, the models and the
optimizer with fairseq.
"""

import logging
import os

from fairseq_stilts.runtime import __version__, require_fairseq  # noqa: F401

# fairseq nags at import time about an optional speech dependency we never use.
logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)
require_fairseq()

from fairseq_stilts.checkpoint_safety import allow_fairseq_checkpoints  # noqa: E402
from fairseq_stilts.errors import report_user_errors  # noqa: E402

allow_fairseq_checkpoints()
report_user_errors()

from fairseq_stilts import families, models, multitask, optim  # noqa: E402, F401

# Importing fairseq runs its wav2vec2 classification module, which sets the root logger to DEBUG
# (so matplotlib and others print their debug lines). Back to INFO unless the user asked.
if logging.getLogger().level < logging.INFO and os.environ.get("LOGLEVEL", "").upper() != "DEBUG":
    logging.getLogger().setLevel(logging.INFO)
