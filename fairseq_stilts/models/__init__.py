"""XLM-R model with named heads (imported by fairseq's --user-dir and by the package)."""
# The file is named after the model it registers: fairseq's --user-dir import requires that.

from fairseq_stilts.models import stilts_xlmr  # noqa: F401
