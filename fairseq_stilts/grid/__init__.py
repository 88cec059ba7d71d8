"""The experiment grid: a plan of intermediate settings x targets x seeds, expanded into runs of
standard fairseq / stilts commands, executed through submitit (locally or on SLURM)."""

EXECUTORS = ("local", "slurm")  # submitit clusters a grid runs on (--executor)
