"""stilts-convert: parity of hidden states and heads between transformers and fairseq XLM-R."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat

import pytest
import sentencepiece as spm
import torch
from conftest import fairseq, train_args
from transformers import (
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    XLMRobertaForQuestionAnswering,
    XLMRobertaForSequenceClassification,
    XLMRobertaForTokenClassification,
    XLMRobertaModel,
    XLMRobertaTokenizer,
)

from fairseq_stilts.cli.convert import main
from fairseq_stilts.convert.from_hf import convert_from_hf
from fairseq_stilts.convert.to_hf import convert_to_hf
from fairseq_stilts.convert.vocab import dictionary_text
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.runtime import __version__, file_sha256, load_encoder
from fairseq_stilts.tiny import DATA_DIR

TOL = 1e-5
SHAPES = [(2, 64, 4, 128), (3, 48, 3, 96)]  # layers, hidden, heads, ffn
SENTENCES = ["Hello world, this is a test.", "Der Hund bellt laut.", "¿Dónde está la biblioteca?"]


def hf_folder(tmp_path, tiny_model, shape, model_class=XLMRobertaForMaskedLM, **config):
    layers, hidden, heads, ffn = shape
    vocab = len(XLMRobertaTokenizer.from_pretrained(spm_only(tmp_path, tiny_model)))
    settings = dict(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=66,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(sum(shape))
    model = model_class(XLMRobertaConfig(**{**settings, **config})).eval()
    out = tmp_path / "hf"
    model.save_pretrained(out)
    shutil.copyfile(tiny_model / "sentencepiece.bpe.model", out / "sentencepiece.bpe.model")
    return model, out


def spm_only(tmp_path, tiny_model):
    folder = tmp_path / "spm"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(tiny_model / "sentencepiece.bpe.model", folder / "sentencepiece.bpe.model")
    return folder


def batch(vocab: int, seed: int = 0) -> torch.Tensor:
    """Random ids with <s> ... </s> and right padding (pad = 1)."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, vocab - 1, (3, 12), generator=g)
    tokens[:, 0] = 0
    for row, length in enumerate((12, 9, 5)):
        tokens[row, length - 1] = 2
        tokens[row, length:] = 1
    return tokens


def hf_hidden(model, tokens):
    base = getattr(model, "roberta", model)
    with torch.no_grad():
        return base(tokens, attention_mask=tokens.ne(1), output_hidden_states=True).hidden_states


def fairseq_hidden(model, tokens):
    with torch.no_grad():
        _, extra = model(tokens, features_only=True, return_all_hiddens=True)
    return [h.transpose(0, 1) for h in extra["inner_states"]]


def max_diff(ours, theirs, tokens) -> float:
    keep = tokens.ne(1)
    return max((a[keep] - b[keep]).abs().max().item() for a, b in zip(ours, theirs, strict=True))


def test_dictionary_gives_the_hf_tokenizer_ids(tmp_path, tiny_model):
    _, hf = hf_folder(tmp_path, tiny_model, SHAPES[0])
    convert_from_hf(hf, tmp_path / "fs")
    tokenizer = XLMRobertaTokenizer.from_pretrained(hf)
    for folder in (tmp_path / "fs", tiny_model):
        encoder = PieceEncoder(folder)
        for text in SENTENCES:
            assert tokenizer(text)["input_ids"] == [0, *encoder.encode(text).tolist()]
    assert tokenizer.mask_token_id == len(encoder.dictionary)


@pytest.mark.parametrize("shape", SHAPES)
def test_parity_both_ways_and_round_trip(tmp_path, tiny_model, shape):
    hf_model, hf = hf_folder(tmp_path, tiny_model, shape)
    assert hf_model.roberta.embeddings.token_type_embeddings.weight.abs().sum() > 0
    assert convert_from_hf(hf, tmp_path / "fs") == []
    fs_model = load_encoder(tmp_path / "fs" / "model.pt", tmp_path / "fs")
    tokens = batch(hf_model.config.vocab_size)
    d_in = max_diff(fairseq_hidden(fs_model, tokens), hf_hidden(hf_model, tokens), tokens)
    with torch.no_grad():
        fs_logits, hf_logits = (
            fs_model(tokens)[0],
            hf_model(tokens, attention_mask=tokens.ne(1)).logits,
        )
    d_lm = (fs_logits - hf_logits)[tokens.ne(1)].abs().max().item()
    print(f"shape {shape}: HF -> fairseq hidden {d_in:.2e}, LM logits {d_lm:.2e}")
    assert d_in < TOL and d_lm < TOL

    assert main(["to-hf", str(tmp_path / "fs" / "model.pt"), str(tmp_path / "back")]) is None
    back = XLMRobertaForMaskedLM.from_pretrained(tmp_path / "back").eval()
    d_out = max_diff(hf_hidden(back, tokens), fairseq_hidden(fs_model, tokens), tokens)
    d_trip = max_diff(hf_hidden(back, tokens), hf_hidden(hf_model, tokens), tokens)
    print(f"shape {shape}: fairseq -> HF hidden {d_out:.2e}, HF round trip {d_trip:.2e}")
    assert d_out < TOL and d_trip < TOL

    # HF -> fairseq -> HF: identical tensors but the folded token-type row
    before, after = hf_model.state_dict(), back.state_dict()
    assert before.keys() == after.keys()
    folded = {
        "roberta.embeddings.position_embeddings.weight",
        "roberta.embeddings.token_type_embeddings.weight",
    }
    assert all(torch.equal(before[k], after[k]) for k in before.keys() - folded)
    types = before["roberta.embeddings.token_type_embeddings.weight"]
    assert torch.equal(
        after["roberta.embeddings.position_embeddings.weight"],
        before["roberta.embeddings.position_embeddings.weight"] + types[0],
    )
    assert not after["roberta.embeddings.token_type_embeddings.weight"].any()
    # fairseq -> HF -> fairseq: every tensor identical
    convert_from_hf(tmp_path / "back", tmp_path / "fs2")
    first = torch.load(tmp_path / "fs" / "model.pt", weights_only=True)["model"]
    second = torch.load(tmp_path / "fs2" / "model.pt", weights_only=True)["model"]
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_plain_encoder_with_pooler_and_two_token_types(tmp_path, tiny_model):
    hf_model, hf = hf_folder(tmp_path, tiny_model, SHAPES[1], XLMRobertaModel, type_vocab_size=2)
    notes = convert_from_hf(hf, tmp_path / "fs")
    assert "not converted: pooler.dense.weight" in notes and any("LM head" in n for n in notes)
    fs_model = load_encoder(tmp_path / "fs" / "model.pt", tmp_path / "fs")
    tokens = batch(hf_model.config.vocab_size, seed=1)
    assert max_diff(fairseq_hidden(fs_model, tokens), hf_hidden(hf_model, tokens), tokens) < TOL


def test_heads_of_a_checkpoint(tmp_path, tiny_model):
    model = load_encoder(tiny_model / "model.pt", tiny_model)
    model.register_span_head("squad")
    model.register_classification_head("xnli", num_classes=3)
    torch.manual_seed(0)
    for p in model.classification_heads.parameters():
        torch.nn.init.normal_(p)
    model.eval()
    state = torch.load(tiny_model / "model.pt", weights_only=True)
    state["model"] = model.state_dict()
    checkpoint = tmp_path / "checkpoint_best.pt"
    torch.save(state, checkpoint)

    tokens = batch(len(model.encoder.dictionary), seed=2)
    with torch.no_grad():
        features = model(tokens, features_only=True)[0]
        span = model.classification_heads["squad"](features)
        classes = model.classification_heads["xnli"](features)
    convert_to_hf(checkpoint, tmp_path / "qa", tiny_model, "squad")
    qa = XLMRobertaForQuestionAnswering.from_pretrained(tmp_path / "qa").eval()
    with torch.no_grad():
        out = qa(tokens, attention_mask=tokens.ne(1))
    keep = tokens.ne(1)
    d_start = (out.start_logits - span[..., 0])[keep].abs().max().item()
    d_end = (out.end_logits - span[..., 1])[keep].abs().max().item()
    assert (
        convert_to_hf(checkpoint, tmp_path / "cls", tiny_model, "xnli")
        == "XLMRobertaForSequenceClassification"
    )
    cls = XLMRobertaForSequenceClassification.from_pretrained(tmp_path / "cls").eval()
    with torch.no_grad():
        d_cls = (cls(tokens, attention_mask=tokens.ne(1)).logits - classes).abs().max().item()
    print(f"span start {d_start:.2e}, end {d_end:.2e}, classification {d_cls:.2e}")
    assert max(d_start, d_end, d_cls) < TOL
    assert convert_to_hf(checkpoint, tmp_path / "lm", tiny_model) == "XLMRobertaForMaskedLM"
    with pytest.raises(StiltsError, match="no head 'mnli'"):
        convert_to_hf(checkpoint, tmp_path / "x", tiny_model, "mnli")


def test_not_xlmr_or_other_epsilon_is_refused(tmp_path, tiny_model, capsys):
    _, hf = hf_folder(tmp_path, tiny_model, SHAPES[0])
    config = hf / "config.json"
    text = config.read_text()
    config.write_text(text.replace('"xlm-roberta"', '"bert"'))
    with pytest.raises(StiltsError, match=r"config\.json: model_type is 'bert'"):
        convert_from_hf(hf, tmp_path / "fs")
    config.write_text(text.replace('"layer_norm_eps": 1e-05', '"layer_norm_eps": 1e-12'))
    with pytest.raises(SystemExit) as exit_info:
        main(["from-hf", str(hf), str(tmp_path / "fs")])
    assert exit_info.value.code == 2
    assert "layer_norm_eps is 1e-12" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "spm"]  # nothing half-written


@pytest.mark.parametrize(
    ("name", "cut", "message"),
    [
        ("config.json", 0.5, r"config\.json:\d+: invalid JSON"),
        ("config.json", 0.0, r"config\.json:1: invalid JSON"),
        ("model.safetensors", 0.5, r"model\.safetensors: not readable weights"),
    ],
)
def test_a_truncated_model_folder_file_is_one_line(
    tmp_path, tiny_model, capsys, name, cut, message
):
    _, hf = hf_folder(tmp_path, tiny_model, SHAPES[0])
    path = hf / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    capsys.readouterr()  # transformers' own progress while the folder was saved
    with pytest.raises(SystemExit) as exit_info:
        main(["from-hf", str(hf), str(tmp_path / "fs")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.fullmatch(f"error: .*{message}.*\n", err), err
    assert not (tmp_path / "fs").exists()  # nothing half-written


def test_checkpoint_with_another_vocabulary_is_refused(tmp_path, tiny_model):
    other = tmp_path / "other"
    other.mkdir()
    spm.SentencePieceTrainer.train(
        input=str(next((DATA_DIR / "mlm").glob("*.txt"))),
        model_prefix=str(other / "sentencepiece.bpe"),
        vocab_size=150,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=1,
    )
    shutil.copyfile(tiny_model / "dict.txt", other / "dict.txt")
    with pytest.raises(StiltsError, match="dict.txt: does not match the sentencepiece model"):
        convert_to_hf(tiny_model / "model.pt", tmp_path / "out", other)
    # the other model's own dict.txt: consistent with its sentencepiece model, not with the checkpoint
    own = tmp_path / "own"
    own.mkdir()
    (own / "dict.txt").write_text(dictionary_text(other / "sentencepiece.bpe.model"))
    shutil.copyfile(other / "sentencepiece.bpe.model", own / "sentencepiece.bpe.model")
    with pytest.raises(StiltsError, match="trained with another dictionary"):
        convert_to_hf(tiny_model / "model.pt", tmp_path / "out", own)
    # an HF folder whose sentencepiece model does not fit its config's vocabulary
    _, hf = hf_folder(tmp_path, tiny_model, SHAPES[0])
    shutil.copyfile(other / "sentencepiece.bpe.model", hf / "sentencepiece.bpe.model")
    with pytest.raises(StiltsError, match="vocab_size is 402"):
        convert_from_hf(hf, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_converted_model_trains_with_fairseq(tmp_path, tiny_model, prepared):
    _, hf = hf_folder(tmp_path, tiny_model, (2, 64, 4, 256), max_position_embeddings=514)
    convert_from_hf(hf, tmp_path / "fs")
    model = tmp_path / "fs" / "model.pt"
    data = prepared("xnli")
    fairseq("fairseq-train", *train_args("xnli", data, model, tmp_path / "ft", 1))
    restore = train_args("xnli", data, model, tmp_path / "rs", 1)
    at = restore.index("--finetune-from-model")
    restore[at : at + 2] = [
        "--restore-file",
        str(model),
        "--reset-optimizer",
        "--reset-dataloader",
        "--reset-meters",
    ]
    fairseq("fairseq-train", *restore)
    assert (tmp_path / "ft" / "checkpoint_last.pt").is_file() and (
        tmp_path / "rs" / "checkpoint_last.pt"
    ).is_file()


def label_names(data) -> list[str]:
    return [line.split()[0] for line in (data / "label" / "dict.txt").read_text().splitlines()]


def checkpoint_with_heads(tmp_path, tiny_model, heads, activation=None, std=0.5):
    """The tiny model with random ``heads`` (name -> (kind, classes), weights of ``std``) saved
    as a checkpoint; ``activation``: the model's --pooler-activation-fn (a tagging head's)."""
    model = load_encoder(tiny_model / "model.pt", tiny_model)
    state = torch.load(tiny_model / "model.pt", weights_only=True)
    if activation is not None:
        model.args.pooler_activation_fn = activation
        state["cfg"]["model"].pooler_activation_fn = activation
    for head, (kind, classes) in heads.items():
        model.register_task_head(kind, head, classes)
    torch.manual_seed(0)
    for p in model.classification_heads.parameters():
        torch.nn.init.normal_(p, std=std)
    model.eval()
    state["model"] = model.state_dict()
    checkpoint = tmp_path / "checkpoint_best.pt"
    torch.save(state, checkpoint)
    return model, checkpoint


def test_tagging_head_with_linear_activation_folds_exactly(tmp_path, tiny_model, prepared):
    data = prepared("udpos")
    tags = label_names(data)
    model, checkpoint = checkpoint_with_heads(
        tmp_path, tiny_model, {"udpos": ("token", len(tags))}, activation="linear", std=0.1
    )
    assert (
        main(
            [
                "to-hf",
                str(checkpoint),
                str(tmp_path / "hf"),
                "--model-dir",
                str(tiny_model),
                "--data",
                str(data),
            ]
        )
        is None
    )
    hf = XLMRobertaForTokenClassification.from_pretrained(tmp_path / "hf").eval()
    assert hf.config.id2label == dict(enumerate(tags))
    assert hf.config.label2id == {t: i for i, t in enumerate(tags)}
    diffs, scales = [], []
    for seed in (3, 4):
        tokens = batch(len(model.encoder.dictionary), seed=seed)
        with torch.no_grad():
            ours = model(tokens, features_only=True, classification_head_name="udpos")[0]
            theirs = hf(tokens, attention_mask=tokens.ne(1)).logits
        keep = tokens.ne(1)
        diffs.append((ours - theirs)[keep].abs().max().item())
        scales.append(ours[keep].abs().max().item())
    d_tag = max(diffs)
    print(f"tagging logits (dense + out_proj folded) {d_tag:.2e}, |logits| up to {max(scales):.2f}")
    assert d_tag < TOL and max(scales) > 1
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "XLMRobertaForTokenClassification" in card and "task: `udpos`" in card
    assert "pipeline_tag: token-classification" in card
    assert all(f"| {i} | {t} |" in card for i, t in enumerate(tags))


def test_tagging_head_with_tanh_is_refused(tmp_path, tiny_model, capsys):
    _, checkpoint = checkpoint_with_heads(tmp_path, tiny_model, {"panx": ("token", 7)})
    with pytest.raises(SystemExit) as exit_info:
        main(["to-hf", str(checkpoint), str(tmp_path / "hf"), "--model-dir", str(tiny_model)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {checkpoint}: head 'panx'")
    assert "dense + tanh + out_proj" in err and "XLMRobertaForTokenClassification" in err
    assert "--head lm" in err
    assert not (tmp_path / "hf").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # the encoder alone still converts
    assert convert_to_hf(checkpoint, tmp_path / "lm", tiny_model, "lm") == "XLMRobertaForMaskedLM"


def test_labels_from_the_data_folder(tmp_path, tiny_model, prepared):
    data = prepared("xnli")
    model, checkpoint = checkpoint_with_heads(tmp_path, tiny_model, {"xnli": ("sentence", 3)})
    convert_to_hf(checkpoint, tmp_path / "named", tiny_model, data=data)
    named = XLMRobertaForSequenceClassification.from_pretrained(tmp_path / "named").eval()
    assert named.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert named.config.label2id == {"entailment": 0, "neutral": 1, "contradiction": 2}
    tokens = batch(len(model.encoder.dictionary), seed=5)
    with torch.no_grad():
        ours = model(tokens, features_only=True, classification_head_name="xnli")[0]
        d_cls = (named(tokens, attention_mask=tokens.ne(1)).logits - ours).abs().max().item()
    print(f"classification logits with --data {d_cls:.2e}")
    assert d_cls < TOL
    card = (tmp_path / "named" / "README.md").read_text()
    assert f"`manifest.json` sha256 `{file_sha256(data / 'manifest.json')}`" in card
    assert "task: `xnli` (family `classification`)" in card and "| 1 | neutral |" in card
    # without --data: generic names, and the card says so
    convert_to_hf(checkpoint, tmp_path / "generic", tiny_model)
    generic = json.loads((tmp_path / "generic" / "config.json").read_text())
    assert generic["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    card = (tmp_path / "generic" / "README.md").read_text()
    assert "No data folder was given (`--data`)" in card and "`LABEL_2`" in card
    assert "## Data" not in card
    # a head of one output (multiple choice: a score per sequence) takes no label names
    _, scored = checkpoint_with_heads(tmp_path, tiny_model, {"copa": ("sentence", 1)})
    convert_to_hf(scored, tmp_path / "scored", tiny_model, data=data)
    assert json.loads((tmp_path / "scored" / "config.json").read_text())["id2label"] == {
        "0": "LABEL_0"
    }
    card = (tmp_path / "scored" / "README.md").read_text()
    assert "one score per sequence" in card and "## Labels" not in card
    assert "The head is named `copa`; the data folder was prepared for task `xnli`." in card


def test_label_count_that_does_not_match_the_head_is_an_error(
    tmp_path, tiny_model, prepared, capsys
):
    data = prepared("pawsx")  # 2 labels
    _, checkpoint = checkpoint_with_heads(tmp_path, tiny_model, {"pawsx": ("sentence", 3)})
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "to-hf",
                str(checkpoint),
                str(tmp_path / "hf"),
                "--model-dir",
                str(tiny_model),
                "--data",
                str(data),
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {data / 'label' / 'dict.txt'} lists 2 labels")
    assert f"head 'pawsx' of {checkpoint} has 3 outputs" in err
    assert not (tmp_path / "hf").exists()
    with pytest.raises(StiltsError, match="manifest.json: not found"):
        convert_to_hf(checkpoint, tmp_path / "hf", tiny_model, data=tmp_path / "nowhere")


def test_model_card_with_results(tmp_path, tiny_model, prepared):
    data = prepared("xnli")
    _, checkpoint = checkpoint_with_heads(tmp_path, tiny_model, {"xnli": ("sentence", 3)})
    rows = [
        {
            "task": "xnli",
            "language": lang,
            "split": "test",
            "metric": "accuracy",
            "value": v,
            "checkpoint": str(checkpoint.resolve()),
            "data_manifest_sha256": file_sha256(data / "manifest.json"),
        }
        for lang, v in (("en", 80.0), ("de", 70.5))
    ]
    results = tmp_path / "checkpoint_best.xnli.test.json"
    results.write_text(json.dumps(rows))
    main(
        [
            "to-hf",
            str(checkpoint),
            str(tmp_path / "hf"),
            "--model-dir",
            str(tiny_model),
            "--data",
            str(data),
            "--results",
            str(results),
        ]
    )
    card = (tmp_path / "hf" / "README.md").read_text()
    print(card)
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: text-classification\n")
    assert "base model: XLM-R, fairseq architecture `xlmr_tiny` (2 layers, hidden size 64" in card
    assert "head: `xnli`: 3 class scores" in card
    assert "| xnli | en | test | accuracy | 80.00 |" in card
    assert "| xnli | de | test | accuracy | 70.50 |" in card
    assert "| xnli | mean of 2 | test | accuracy | 75.25 |" in card
    assert f"fairseq-stilts {__version__}" in card and "stilts-convert to-hf" in card
    assert f"`{file_sha256(data / 'manifest.json')}`" in card
    for text, message in (
        ("{not json", "not a results JSON written by stilts-eval"),
        (json.dumps([{"task": "xnli", "language": "en"}]), "row 0 has no split, metric, value"),
        (json.dumps([{**rows[0], "value": "high"}]), "row 0: value 'high' is not a number"),
    ):
        results.write_text(text)
        with pytest.raises(StiltsError, match=f"^{results}: {message}"):
            convert_to_hf(checkpoint, tmp_path / "bad", tiny_model, data=data, results=results)
    with pytest.raises(StiltsError, match="results file not found"):
        convert_to_hf(checkpoint, tmp_path / "bad", tiny_model, results=tmp_path / "none.json")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask022", "umask027"])
def test_exported_folders_have_normal_modes(tmp_path, tiny_model, umask):
    _, checkpoint = checkpoint_with_heads(tmp_path, tiny_model, {"xnli": ("sentence", 3)})
    _, hf = hf_folder(tmp_path, tiny_model, SHAPES[0])
    previous = os.umask(umask)
    try:
        convert_to_hf(checkpoint, tmp_path / "out" / "hf", tiny_model)
        convert_from_hf(hf, tmp_path / "out" / "fs")
    finally:
        os.umask(previous)
    for folder in (tmp_path / "out" / "hf", tmp_path / "out" / "fs"):
        paths = [folder, *folder.rglob("*")]
        modes = {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in paths}
        assert modes["."] == 0o755 & ~umask
        assert {"model.safetensors", "config.json", "README.md"} <= modes.keys() or (
            {"model.pt", "dict.txt", "sentencepiece.bpe.model"} <= modes.keys()
        )
        for name, mode in modes.items():
            expected = 0o755 if (folder / name).is_dir() else 0o644
            assert mode == expected & ~umask, (folder / name, oct(mode))
