"""Speed and peak memory of the library's blocked k-NN search, as BUCC mining runs it.

For each N in ``--sizes``, a fresh subprocess makes two seeded sets of N random L2-normalised
float32 embeddings of ``--dim`` dimensions (1024, as XLM-R Large) and times
``fairseq_stilts.metrics.retrieval.margin_candidates(x, y, k=4, block_size=B)``: the search
``mine_pairs`` runs, i.e. ``knn`` both ways (k = 4) plus the ratio margins. In the same process
it then times the bound: plain ``torch.mm`` of the same block shape, ``x[i:i+B] @ y[j:j+B].T``
for every pair of blocks, both ways, so each similarity is computed once per direction, exactly
the products the search needs: 2 directions x 2 N^2 dim FLOPs. ratio = bound s / search s
(search GFLOP/s over bound GFLOP/s); the issue aims for >= 0.7. Each timing is the best of
``--repeats`` after one untimed warm-up product.

Peak memory is measured per subprocess. CPU: the peak resident set size (Linux ``VmHWM``, reset
through ``/proc/self/clear_refs`` once the inputs exist) during the search, minus the resident
size just before it: all memory the search itself touched (torch tensors, allocator slack and
BLAS buffers alike), not counting the inputs. Where the reset is not allowed, ``ru_maxrss`` is
used instead (the inputs are built in chunks so that they do not raise the mark beforehand).
CUDA: ``torch.cuda.max_memory_allocated`` minus the allocated bytes before the search (tensors
only). Besides the sizes timed at ``--block-size``, the search alone runs at each of
``--memory-blocks`` at N = ``--memory-n``. The table sets that against the N^2 x 4 bytes one
full similarity matrix needs.

others: share of the CPUs that other processes took during a subprocess (/proc/stat); BLAS
threads slow down many times over when another process holds a core, so rerun when it is not ~0%.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from record import Aim, Table, save

QUICK = {"sizes": [4000, 8000], "memory_n": 8000, "memory_blocks": [1024, 2048, 4096]}


@dataclass
class Run:
    """One subprocess: the search (and optionally the bound) at one N and block size."""

    n: int
    block: int
    search_s: float
    bound_s: float | None
    peak_bytes: int
    others: float = float("nan")


def flops(n: int, dim: int) -> float:
    """FLOPs of every similarity once per direction: 2 directions x N x N x 2 dim."""
    return 2.0 * n * n * 2.0 * dim


def embeddings(n: int, dim: int, seed: int, device: str):
    """N random unit rows, built in chunks so that memory never exceeds the result by much."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(n, dim, dtype=torch.float32)
    for start in range(0, n, 8192):
        rows = torch.randn(min(8192, n - start), dim, generator=generator)
        out[start : start + len(rows)] = torch.nn.functional.normalize(rows, dim=1)
    return out.to(device)


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (VmRSS, VmHWM)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))


class PeakMemory:
    """Extra peak memory of a code section over what was in use when it started."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch, self.cuda = torch, device.startswith("cuda")

    def start(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
            self.torch.cuda.reset_peak_memory_stats()
            self.before = self.torch.cuda.memory_allocated()
            return
        try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
            Path("/proc/self/clear_refs").write_text("5")
            self.hwm = True
        except OSError:
            self.hwm = False
        self.before = _status_kib("VmRSS") * 1024

    def peak(self) -> int:
        if self.cuda:
            self.torch.cuda.synchronize()
            return self.torch.cuda.max_memory_allocated() - self.before
        if self.hwm:
            kib = _status_kib("VmHWM")
        else:
            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kib * 1024 - self.before


def bound(x, y, block: int) -> None:
    """The products the search needs, as plain block-by-block ``torch.mm``, both ways."""
    import torch

    for queries, candidates in ((x, y), (y, x)):
        for i in range(0, len(queries), block):
            for j in range(0, len(candidates), block):
                torch.mm(queries[i : i + block], candidates[j : j + block].T)


def worker(args: argparse.Namespace) -> None:
    """In a fresh process: time (and measure) one configuration; print one JSON line."""
    import torch

    from fairseq_stilts.metrics.retrieval import margin_candidates

    torch.set_num_threads(args.threads)
    x = embeddings(args.n, args.dim, args.seed, args.device)
    y = embeddings(args.n, args.dim, args.seed + 1, args.device)

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    torch.mm(x[:256], y[:256].T)  # warm up BLAS / CUDA
    sync()
    memory = PeakMemory(args.device)
    search_s, bound_s, peak = [], [], 0
    for _ in range(args.repeats):
        memory.start()
        start = time.perf_counter()
        margin_candidates(x, y, k=4, block_size=args.block_size, device=args.device)
        search_s.append(time.perf_counter() - start)  # returns numpy: already synchronised
        peak = max(peak, memory.peak())
        if args.with_bound:
            sync()
            start = time.perf_counter()
            bound(x, y, args.block_size)
            sync()
            bound_s.append(time.perf_counter() - start)
    result = {
        "n": args.n,
        "block": args.block_size,
        "search_s": min(search_s),
        "bound_s": min(bound_s) if bound_s else None,
        "peak_bytes": peak,
    }
    print(json.dumps(result))


def cpu_ticks() -> float:
    """Busy seconds of all CPUs so far (including steal), from /proc/stat; NaN elsewhere."""
    try:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def spawn(args: argparse.Namespace, n: int, block: int, with_bound: bool) -> Run:
    """Run one configuration in a fresh subprocess; note how much CPU others took meanwhile."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--n",
        str(n),
        "--block-size",
        str(block),
        "--dim",
        str(args.dim),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--repeats",
        str(args.repeats),
    ]
    if with_bound:
        command.append("--with-bound")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, busy = time.perf_counter(), cpu_ticks()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"N={n} block={block} failed (exit {done.returncode}):\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = sum(getattr(after, f) - getattr(children, f) for f in ("ru_utime", "ru_stime"))
    wall = time.perf_counter() - wall
    run = Run(**json.loads(done.stdout.strip().splitlines()[-1]))
    run.others = max(0.0, (cpu_ticks() - busy - own) / (wall * (os.cpu_count() or 1)))
    return run


def mib(size: float) -> str:
    return f"{size / 2**20:,.0f}"


ABOUT = (
    "`benchmarks/retrieval_speed.py`: BUCC mining's blocked k-NN search (`margin_candidates`, "
    "k = 4 both ways, 1024-dim random unit embeddings) against plain `torch.mm` of the same blocks "
    "and FLOPs in the same process (ratio = bound s / search s), and the search's peak memory "
    "against the N^2 x 4 bytes of one full similarity matrix."
)


def report(args: argparse.Namespace, timed: list[Run], memory: list[Run]) -> None:
    """The speed table, the memory table and the aim, printed and recorded."""
    speed = Table(
        f"margin_candidates(k=4, block_size={args.block_size}) against the torch.mm bound, "
        f"dim {args.dim}, {args.threads} threads, {args.device}",
        [
            "N per side",
            "GFLOP",
            "search s",
            "bound s",
            "search GFLOP/s",
            "bound GFLOP/s",
            "ratio",
            "others",
        ],
    )
    for r in timed:
        work = flops(r.n, args.dim)
        speed.add(
            f"{r.n:,}",
            f"{work / 1e9:,.0f}",
            f"{r.search_s:.2f}",
            f"{r.bound_s:.2f}",
            f"{work / r.search_s / 1e9:,.1f}",
            f"{work / r.bound_s / 1e9:,.1f}",
            f"{r.bound_s / r.search_s:.2f}",
            f"{r.others:.0%}",
        )
    kind = "tensor bytes (CUDA)" if args.device.startswith("cuda") else "resident set (CPU)"
    peaks = Table(
        f"Peak memory of the search over the inputs, MiB, {kind}",
        ["N", "block", "search peak", "inputs (2 N dim x 4 B)", "N^2 x 4 B", "peak / N^2 x 4 B"],
    )
    for r in sorted(memory, key=lambda r: (r.n, r.block)):
        full = 4.0 * r.n * r.n
        peaks.add(
            f"{r.n:,}",
            r.block,
            mib(r.peak_bytes),
            mib(2 * 4.0 * r.n * args.dim),
            mib(full),
            f"{r.peak_bytes / full:.1%}",
        )
    aim = Aim("lowest ratio", min(r.bound_s / r.search_s for r in timed), 0.7)
    save(
        args.results,
        f"retrieval_speed_{args.device.split(':')[0]}",
        f"Retrieval search ({args.device.split(':')[0].upper()})",
        ABOUT,
        [speed, peaks],
        [aim],
        device=args.device,
        others=max(r.others for r in timed + memory),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[20000, 50000, 100000],
        help="N, rows per side, to time",
    )
    parser.add_argument("--dim", type=int, default=1024, help="embedding size (XLM-R Large: 1024)")
    parser.add_argument("--block-size", type=int, default=4096, help="block_size of the search")
    parser.add_argument(
        "--memory-blocks",
        type=int,
        nargs="+",
        default=[1024, 4096, 8192],
        help="block sizes for the memory table",
    )
    parser.add_argument("--memory-n", type=int, help="N for the memory table (default: smallest)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=1, help="timings per run; best is kept")
    parser.add_argument("--seed", type=int, default=1, help="seed of the embeddings")
    parser.add_argument("--quick", action="store_true", help="small sizes: well under 30 s")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--with-bound", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if min(args.sizes + args.memory_blocks + [args.dim, args.block_size, args.repeats]) < 1:
        parser.error("sizes, block sizes, --dim and --repeats must be positive")
    args.memory_n = args.memory_n or min(args.sizes)
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    timed = []
    for n in args.sizes:
        print(f"N={n}: search and bound ...", end=" ", flush=True)
        timed.append(spawn(args, n, args.block_size, with_bound=True))
        print(f"{timed[-1].search_s:.2f} s and {timed[-1].bound_s:.2f} s")
    memory = list(timed)
    for block in args.memory_blocks:
        if args.memory_n not in args.sizes or block != args.block_size:
            print(f"N={args.memory_n}, block {block}: search ...", end=" ", flush=True)
            memory.append(spawn(args, args.memory_n, block, with_bound=False))
            print(f"{memory[-1].search_s:.2f} s, peak {mib(memory[-1].peak_bytes)} MiB")
    report(args, timed, memory)


if __name__ == "__main__":
    main()
