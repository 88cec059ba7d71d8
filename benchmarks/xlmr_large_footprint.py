"""What one XLM-R Large update of phase 2 / phase 3 needs: parameters, optimizer state,
saved activations and FLOPs, counted on the CPU; GPU hours as a labelled estimate.

The model is the plugin's ``xlmr_large`` architecture (``stilts_xlmr``: 24 layers, 1024
hidden, 16 heads, 4096 FFN, 512 positions) built by fairseq with random weights and a fake
``dict.txt`` whose size matches the official release (249,997 pieces + 4 specials + ``<mask>``
= 250,002 embedding rows), plus a task head: a 3-class sentence head (XNLI, batch 8 x 256)
and a span head (SQuAD / XQuAD, batch 4 x 384). Nothing is loaded or downloaded.

Measured (on the CPU, in this process):
- (a) parameters, counted from the built model (total; token and position embeddings; head);
- (c) activations: bytes of the unique storages that autograd saves for backward during one
  training-mode forward (dropout on), through ``torch.autograd.graph.saved_tensors_hooks``;
  parameters (and views of them) are left out, they are model state. fp32: the model in
  float32. 2-byte: the same model cast to bfloat16 (``model.to(torch.bfloat16)``), which is
  what fairseq's ``--fp16`` does with float16 (``model.half()``): every tensor fairseq keeps in
  the parameter dtype becomes 2-byte, and what the code upcasts stays float32 (fairseq's GELU
  input, the losses, and on the CPU the attention's probabilities and q, k, v copies).
  bfloat16 stands in for float16 because it runs on this CPU; both are 2 bytes, so the byte
  counts are the same;
- (d) FLOPs of one forward + backward with ``torch.utils.flop_counter.FlopCounterMode``
  (matrix multiplications and attention; elementwise work is not counted by it), in the same
  fp32 pass as the fp32 activation count.

Derived (arithmetic, formula printed):
- (b) model state of fairseq ``--fp16 --fp16-no-flatten-grads`` with ``stilts_adamw``:
  per parameter 2 (fp16 weight) + 2 (fp16 gradient, alive from backward to the step) +
  4 (fp32 master weight) + 4 (fp32 master gradient) + 4 + 4 (Adam moments) = 20 bytes;
- FLOPs per run = FLOPs per batch x batches per update (``--update-freq``) x updates, with the
  update counts and batches read from the Hydra configs (examples/xtreme/config) and from
  examples/xtreme/plan_xlmr_large.yaml, every row at its full length: an upper bound, since
  training batches are grouped by length and most inputs are shorter;
- GPU hours = FLOPs per run / an ASSUMED sustained throughput. Nothing ran on a GPU.

Not counted: the CUDA caching allocator's fragmentation, cuBLAS / cuDNN workspaces, the CUDA
context (~0.5-1 GB), temporaries of the optimizer step and of the backward pass, and the
kernel choice: CUDA's fused attention kernels save less than the CPU's attention does (the
per-head T x T attention share is printed separately for that reason; the CPU's attention also
keeps float32 copies of q, k and v for a 2-byte model, about 0.6 GB at 8 x 256, which the figure
without T x T still holds).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from fairseq_stilts.grid.plan import is_retrieval
from fairseq_stilts.registry import get_spec

THREADS = 2
VOCAB_PIECES = 249_997  # official xlmr.large/dict.txt lines; + <s> <pad> </s> <unk> + <mask>
GB = 1e9
GIB = 2**30
MODEL_STATE_BYTES = {
    "fp16 weights": 2,
    "fp16 gradients": 2,
    "fp32 master weights": 4,
    "fp32 master gradients": 4,
    "Adam first moment (fp32)": 4,
    "Adam second moment (fp32)": 4,
}


@dataclass(frozen=True)
class Shape:
    name: str
    head: str  # "sentence" (3 classes) or "span"
    batch: int
    length: int


SHAPES = (
    Shape("classification / tagging", "sentence", 8, 256),
    Shape("span QA", "span", 4, 384),
)
QUICK_SHAPES = (
    # lengths other than the head size (64), so q, k, v are not taken for T x T tensors
    Shape("classification / tagging", "sentence", 2, 72),
    Shape("span QA", "span", 1, 96),
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "xtreme"
CHOICES = {"hellaswag": 4, "cosmosqa": 4, "commonsenseqa": 5}  # batch rows per example
SENTENCE, SPAN = "classification / tagging", "span QA"  # the shapes' names


@dataclass(frozen=True)
class Run:
    """One training run's length: ``updates`` of ``freq`` batches of ``shape``, ``rows`` rows
    per example (multiple choice)."""

    name: str
    shape: str
    freq: int
    updates: int
    rows: int


def shape_of(tasks: list[str]) -> str:
    """A run of span-QA tasks only is counted in span-QA batches, any other in sentence batches."""
    return SPAN if all(get_spec(t).family == "span_qa" for t in tasks) else SENTENCE


def config_runs() -> list[Run]:
    """Every Hydra config of examples/xtreme/config (its task, update-freq and max-update)."""
    runs = []
    for path in sorted((EXAMPLES / "config").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        task = config["task"]["_name"]
        tasks = config["task"].get("tasks", task).split(",")  # a multi-task config lists them
        optimization = config["optimization"]
        runs.append(
            Run(
                path.stem,
                shape_of(tasks),
                optimization["update_freq"][0],
                optimization["max_update"],
                CHOICES.get(task, 1),
            )
        )
    return runs


def plan_runs(path: Path) -> tuple[list[Run], list[Run], int]:
    """A grid plan's intermediate runs (one per setting with tasks) and target runs (one per
    trainable target), with the flags each gets (the last given wins), and its seed count."""
    plan = yaml.safe_load(path.read_text())

    def flag(options: str, name: str) -> int:
        words = shlex.split(plan.get("train", "") + " " + options)
        values = [words[i + 1] for i, w in enumerate(words[:-1]) if w == name]
        if not values:
            raise SystemExit(f"{path}: no {name} in `train` or in the run's options")
        return int(values[-1])  # the last one given wins, as in fairseq-train

    def run(name: str, tasks: list[str], options: str) -> Run:
        rows = CHOICES.get(tasks[0], 1) if len(tasks) == 1 else 1  # a mixture: as the first shape
        return Run(
            name,
            shape_of(tasks),
            flag(options, "--update-freq"),
            flag(options, "--max-update"),
            rows,
        )

    intermediate = [
        run(s["name"], s["tasks"], s.get("options", "")) for s in plan["settings"] if s["tasks"]
    ]
    options = plan.get("target_options", {})
    targets = [run(t, [t], options.get(t, "")) for t in plan["targets"] if not is_retrieval(t)]
    return intermediate, targets, len(plan["seeds"])


ASSUMED_TFLOPS = (100, 300)
CARDS_GB = (16, 24, 40, 80)


def build_model(arch: str, workdir: Path):
    """The plugin's ``arch`` built by fairseq with random weights and a 250,002-entry vocab."""
    from fairseq import options
    from fairseq.data import Dictionary
    from fairseq.models import build_model as fairseq_build_model

    import fairseq_stilts  # noqa: F401  (registers stilts_xlmr and its architectures)
    from fairseq_stilts.runtime import DictionaryOnlyTask

    dict_txt = workdir / "dict.txt"
    dict_txt.write_text("".join(f"piece{i} 1\n" for i in range(VOCAB_PIECES)))
    dictionary = Dictionary.load(str(dict_txt))
    dictionary.add_symbol("<mask>")  # as the plugin's tasks do
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(workdir), "--arch", arch, "--cpu"])
    return fairseq_build_model(args, DictionaryOnlyTask(dictionary)), dictionary


def add_head(model, kind: str) -> str:
    if kind == "span":
        model.register_span_head("squad")
        return "squad"
    model.register_classification_head("xnli", num_classes=3)
    return "xnli"


def count_parameters(model) -> dict[str, int]:
    named = dict(model.named_parameters())
    embed = [n for n in named if "embed_tokens" in n or "embed_positions" in n]
    heads = [n for n in named if n.startswith("classification_heads.")]
    lm_head = [n for n in named if n.startswith("encoder.lm_head.")]
    return {
        "total": sum(p.numel() for p in named.values()),
        "embeddings (token + position)": sum(named[n].numel() for n in embed),
        "token embeddings": sum(named[n].numel() for n in embed if "embed_tokens" in n),
        "head": sum(named[n].numel() for n in heads),
        "LM head (dense, LayerNorm, bias; weight tied to embeddings)": sum(
            named[n].numel() for n in lm_head
        ),
    }


class SavedTensors:
    """Unique storages saved for backward, parameters excluded; bytes by dtype."""

    def __init__(self, model) -> None:
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.storages: dict[int, tuple[int, torch.dtype]] = {}
        self.attention = 0  # bytes of saved tensors shaped (batch*heads or batch, heads, T, T)
        self.length = 0

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.params and ptr not in self.storages:
            self.storages[ptr] = (storage.nbytes(), tensor.dtype)
            if tensor.dim() >= 3 and tensor.shape[-1] == tensor.shape[-2] == self.length:
                self.attention += storage.nbytes()
        return tensor

    @property
    def total(self) -> int:
        return sum(n for n, _ in self.storages.values())

    def by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n, dtype in self.storages.values():
            key = str(dtype).removeprefix("torch.")
            out[key] = out.get(key, 0) + n
        return out


def batch(dictionary, shape: Shape, seed: int) -> torch.Tensor:
    """Random full-length rows (no padding: the worst case of a length-``T`` batch)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(
        dictionary.nspecial, len(dictionary) - 1, (shape.batch, shape.length), generator=generator
    )
    tokens[:, 0] = dictionary.bos()
    tokens[:, -1] = dictionary.eos()
    return tokens


def loss_of(model, head: str, tokens: torch.Tensor) -> torch.Tensor:
    """As the plugin's criteria: cross-entropy over the head's outputs (in float32)."""
    logits, _ = model(tokens, features_only=True, classification_head_name=head)
    logits = logits.float()
    if logits.dim() == 2:  # sentence head
        target = torch.zeros(tokens.size(0), dtype=torch.long)
        return torch.nn.functional.cross_entropy(logits, target, reduction="sum")
    start, end = logits.unbind(dim=-1)
    target = torch.ones(tokens.size(0), dtype=torch.long)
    return (
        torch.nn.functional.cross_entropy(start, target, reduction="sum")
        + torch.nn.functional.cross_entropy(end, target, reduction="sum")
    ) / 2


def measure_fp32(model, head: str, tokens: torch.Tensor) -> tuple[SavedTensors, int, int, float]:
    """One fp32 forward + backward: saved activations, forward and total FLOPs, seconds."""
    from torch.utils.flop_counter import FlopCounterMode

    saved = SavedTensors(model)
    saved.length = tokens.size(1)
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    with FlopCounterMode(display=False) as counter:
        with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
            loss = loss_of(model, head, tokens)
        forward = counter.get_total_flops()
        loss.backward()
    seconds = time.perf_counter() - start
    total = counter.get_total_flops()
    model.zero_grad(set_to_none=True)
    return saved, forward, total, seconds


def measure_2byte(model, head: str, tokens: torch.Tensor) -> SavedTensors:
    """Saved tensors of one forward of the model cast to bfloat16 (no backward is needed)."""
    saved = SavedTensors(model)
    saved.length = tokens.size(1)
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda t: t):
        loss = loss_of(model, head, tokens)
    del loss
    return saved


def gb(n: float) -> str:
    return f"{n / GB:,.2f} GB ({n / GIB:,.2f} GiB)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="xlmr_large", help="plugin architecture (xlmr_large)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke check: batches 2 x 72 and 1 x 96 instead of 8 x 256 and 4 x 384",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    torch.set_num_threads(THREADS)
    torch.manual_seed(args.seed)
    began = time.perf_counter()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}")
    print(f"torch {torch.__version__}, CPU, {THREADS} threads; arch {args.arch}, random weights")

    with tempfile.TemporaryDirectory(prefix="xlmr-footprint-") as tmp:
        model, dictionary = build_model(args.arch, Path(tmp))
    model.train()  # dropout on, as in training
    layers = len(model.encoder.sentence_encoder.layers)
    dim = model.args.encoder_embed_dim
    print(
        f"built: {layers} layers, {dim} hidden, vocabulary {len(dictionary):,} in {time.perf_counter() - began:.1f} s"
    )

    # (a) parameters
    heads = {}
    for shape in shapes:
        if shape.head not in heads:
            heads[shape.head] = add_head(model, shape.head)
    print("\n(a) parameters (counted from the built model)")
    counts_by_head = {}
    for kind, name in heads.items():
        other = [h for h in heads.values() if h != name]
        saved_heads = {h: model.classification_heads.pop(h) for h in other}
        counts_by_head[kind] = count_parameters(model)
        model.classification_heads.update(saved_heads)
    encoder_only = counts_by_head["sentence"]["total"] - counts_by_head["sentence"]["head"]
    base = counts_by_head["sentence"]
    print(f"  total, with the 3-class sentence head  {base['total']:>13,}")
    for key in ("embeddings (token + position)", "token embeddings"):
        print(f"  {key:<38} {base[key]:>13,}")
    print(
        f"  non-embedding                          {base['total'] - base['embeddings (token + position)']:>13,}"
    )
    print(
        f"  of which LM head (dense, LayerNorm, bias; its weight is tied to the embeddings) {base['LM head (dense, LayerNorm, bias; weight tied to embeddings)']:,}"
    )
    for kind, counts in counts_by_head.items():
        print(f"  {kind} head: {counts['head']:,} (model with it: {counts['total']:,})")
    print(f"  model without task head: {encoder_only:,}")

    # (b) model state
    per_param = sum(MODEL_STATE_BYTES.values())
    state = base["total"] * per_param
    print("\n(b) model state, fairseq --fp16 --fp16-no-flatten-grads + stilts_adamw (derived)")
    print(
        "  bytes per parameter = "
        + " + ".join(f"{b} ({k})" for k, b in MODEL_STATE_BYTES.items())
        + f" = {per_param}"
    )
    print(f"  {base['total']:,} parameters x {per_param} B = {gb(state)}")
    print(
        f"  (without the fp16 gradients, which exist from backward to the step: {gb(base['total'] * (per_param - 2))})"
    )
    print(
        f"  fp32 training for comparison (weights, gradients, 2 moments: 16 B/param): {gb(base['total'] * 16)}"
    )

    # (c) + (d) activations and FLOPs
    results = {}
    for shape in shapes:
        head = heads[shape.head]
        tokens = batch(dictionary, shape, args.seed)
        saved32, forward, total, seconds = measure_fp32(model, head, tokens)
        results[shape.name] = (shape, saved32, forward, total, seconds)
    model.to(torch.bfloat16)
    for shape in shapes:
        tokens = batch(dictionary, shape, args.seed)
        saved16 = measure_2byte(model, heads[shape.head], tokens)
        results[shape.name] = (*results[shape.name], saved16)
    model.float()

    print("\n(c) activations saved for backward, one forward in training mode (measured)")
    for shape, saved32, _, _, _, saved16 in results.values():
        print(f"  {shape.name}, batch {shape.batch} x {shape.length} tokens, {shape.head} head:")
        print(
            f"    fp32 model:     {gb(saved32.total)}  by dtype: "
            + ", ".join(f"{k} {gb(v)}" for k, v in saved32.by_dtype().items())
        )
        print(
            f"    2-byte model:   {gb(saved16.total)}  by dtype: "
            + ", ".join(f"{k} {gb(v)}" for k, v in saved16.by_dtype().items())
        )
        print(
            f"    of the 2-byte figure, T x T attention tensors (CPU math attention): {gb(saved16.attention)}"
        )
        print(
            f"    2-byte without them (derived; a fused CUDA attention kernel saves no T x T tensor): {gb(saved16.total - saved16.attention)}"
        )

    sentence16 = results[shapes[0].name][5]
    print(
        f"  multiple choice (derived, not measured): --batch-size {shapes[0].batch} counts examples, each of 4 (5 for CommonsenseQA) rows, so at {shapes[0].length} tokens a batch saves 4x (5x) the 2-byte figure of the {shapes[0].batch} x {shapes[0].length} batch above: {gb(4 * sentence16.total)} ({gb(5 * sentence16.total)}); their inputs are mostly far shorter than {shapes[0].length} tokens"
    )
    print(
        "  tagging heads (17 UPOS, 7 NER, ~1,363 CCG tags, per token) add under 1% to the sentence-head figures"
    )

    print("\n(d) FLOPs of one batch, forward + backward (FlopCounterMode, measured)")
    for shape, _, forward, total, seconds, _ in results.values():
        tokens_n = shape.batch * shape.length
        approx = 6 * (base["total"] - base["embeddings (token + position)"]) * tokens_n
        print(
            f"  {shape.name}, {shape.batch} x {shape.length}: forward {forward / 1e12:.2f} TFLOP, forward + backward {total / 1e12:.2f} TFLOP ({total / tokens_n / 1e9:.2f} GFLOP/token; 6 x non-embedding params x tokens = {approx / 1e12:.2f} TFLOP); CPU fp32 time {seconds:.1f} s"
        )

    by_shape = {name: r[3] for name, r in results.items()}

    def flops(run: Run) -> float:
        return by_shape[run.shape] * run.rows * run.freq * run.updates

    def hours(total: float, digits: int = 2) -> str:
        return ", ".join(
            f"{total / (t * 1e12) / 3600:,.{digits}f} h at {t} TFLOP/s" for t in ASSUMED_TFLOPS
        )

    print("\nFLOPs per run = FLOPs per batch x batches per update x updates (derived)")
    print(
        "  every row at its full length: an upper bound (batches are grouped by length, most inputs are shorter)"
    )
    print(
        "  ESTIMATE, not measured: GPU hours at an ASSUMED sustained fp16 throughput; no XLM-R Large run was made"
    )
    print("  multi-task and MNLI + MLM runs are counted as batches of the first shape")
    print(f"  {'run':<28} {'batches/update':>14} {'updates':>8} {'PFLOP':>9}  GPU hours (estimate)")
    runs = config_runs()
    intermediate, targets, seeds = plan_runs(EXAMPLES / "plan_xlmr_large.yaml")
    for title, group in (
        ("Hydra configs (examples/xtreme/config)", runs),
        ("plan_xlmr_large.yaml intermediate settings", intermediate),
        ("plan_xlmr_large.yaml targets", targets),
    ):
        print(f"  {title}:")
        for run in group:
            note = f" (x{run.rows} rows per example)" if run.rows > 1 else ""
            print(
                f"  {run.name:<28} {run.freq:>14} {run.updates:>8,} {flops(run) / 1e15:>9,.1f}  {hours(flops(run))}{note}"
            )
    per_setting = sum(map(flops, targets))
    print(
        f"  the plan's trainable targets, one setting and seed: {per_setting / 1e15:,.1f} PFLOP, {hours(per_setting, 1)}"
    )
    settings = len(intermediate) + 1  # and `none`
    grid = seeds * (sum(map(flops, intermediate)) + settings * per_setting)
    print(
        f"  examples/xtreme/plan_xlmr_large.yaml ({settings} settings x {seeds} seeds, each "
        f"followed by its targets): {grid / 1e18:,.1f} EFLOP, {hours(grid, 0)}"
    )
    print(
        "  (an evaluation every 1,000 updates adds forward passes over the dev sets, not included)"
    )

    print("\nMemory of one fp16 update = model state (b) + 2-byte activations (c)")
    print(
        "  not counted: CUDA context, caching-allocator fragmentation, cuBLAS workspaces, backward and optimizer-step temporaries"
    )
    print(f"  {'batch':<50} {'counted':>10}" + "".join(f" {f'{c} GB card':>14}" for c in CARDS_GB))
    for shape, _, _, _, _, saved16 in results.values():
        for label, activations in (
            ("as measured", saved16.total),
            ("without T x T", saved16.total - saved16.attention),
        ):
            need = state + activations
            verdicts = "".join(
                f" {'fits' if need < c * GB else 'does not fit':>14}" for c in CARDS_GB
            )
            name = f"{shape.name} {shape.batch} x {shape.length}, {label}"
            print(f"  {name:<50} {need / GB:>7.1f} GB{verdicts}")
    print(f"\ntook {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
