"""``planner_adapters export VERSION --gguf``: the merged planner as a GGUF file llama.cpp can load.

A real adapter is trained (TRL DPO on simulated feedback) on the planner model
bootstrapped here, exported through the management command, and the file is
read back with gguf-py's own ``GGUFReader``: what llama.cpp reads from it must
be the merged model, in llama.cpp's layout, with the HF tokenizer's vocabulary.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from layer2.planning.llm_planner import load_planner
from layer2.planning.widgets import CATALOG, SIZES
from rl.tier2.adapters import AdapterRegistry
from rl.tier2.preference_data import build_preference_data
from rl.tier2.training import run_training
from tests.rl.tier2.test_tier2 import TINY

CONTROL, USER_DEFINED, NORMAL = 3, 4, 1  # gguf.TokenType values, spelt out so a renumbering would show


@pytest.fixture
def adapter(planner_model, rated, settings, tmp_path):
    """A trained adapter in the registry the command reads (``settings.PLANNER_DIR``)."""
    settings.PLANNER_DIR = tmp_path / "planner"
    settings.PLANNER_MODEL_PATH = str(planner_model)
    registry = AdapterRegistry(settings.PLANNER_DIR)
    record = run_training(data=build_preference_data(rated), registry=registry, model_path=planner_model, config=TINY)
    return registry, record.version


def export(version: str, out: Path, *flags: str) -> str:
    stdout = io.StringIO()
    call_command("planner_adapters", "export", version, "--out", str(out), "--gguf", *flags, stdout=stdout)
    return stdout.getvalue()


def fields(reader) -> dict:
    return {name: field.contents() for name, field in reader.fields.items()}


def unpermute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's interleaved rotary rows back to HF's rotate-half order, head by head."""
    rows, rest = weights.shape[0], weights.shape[1:]
    return weights.reshape(n_head, rows // n_head // 2, 2, *rest).swapaxes(1, 2).reshape(weights.shape)


def expected_names(layers: int) -> set[str]:
    per_layer = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")
    return {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{t}.weight" for i in range(layers) for t in per_layer
    }  # no output.weight: the embeddings are tied


def hf_name(gguf_name: str) -> str:
    top = {"token_embd": "model.embed_tokens", "output_norm": "model.norm"}
    parts = gguf_name.removesuffix(".weight").split(".")
    if parts[0] in top:
        return top[parts[0]] + ".weight"
    inner = {
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    }  # fmt: skip
    return f"model.layers.{parts[1]}.{inner[parts[2]]}.weight"


def test_the_gguf_holds_the_merged_model_in_llama_cpp_layout(adapter, planner_model, tmp_path):
    import gguf

    registry, version = adapter
    printed = export(version, tmp_path / "planner.gguf")
    path = tmp_path / "planner.gguf"
    assert f"GGUF written to {path}" in printed and "tensors" in printed and "MB (f32)" in printed
    assert not list(tmp_path.glob("*.partial")), "the temporary file was left behind"

    merged, tokenizer = load_planner(model_path=planner_model, adapter_path=registry.path(version))
    merged = merged.merge_and_unload()
    config, weights = merged.config, {k: v.numpy() for k, v in merged.state_dict().items()}
    base, _ = load_planner(model_path=planner_model)
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not np.array_equal(base.state_dict()[q].numpy(), weights[q]), "the adapter changed nothing"

    reader = gguf.GGUFReader(path)
    meta = fields(reader)
    assert meta["general.architecture"] == "llama" and meta["general.file_type"] == 0
    head_dim = config.hidden_size // config.num_attention_heads
    assert {k: meta[f"llama.{k}"] for k in (
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "rope.dimension_count", "vocab_size",
    )} == {
        "context_length": config.max_position_embeddings, "embedding_length": config.hidden_size,
        "block_count": config.num_hidden_layers, "feed_forward_length": config.intermediate_size,
        "attention.head_count": config.num_attention_heads, "attention.head_count_kv": config.num_key_value_heads,
        "rope.dimension_count": head_dim, "vocab_size": len(tokenizer),
    }  # fmt: skip
    assert meta["llama.rope.freq_base"] == pytest.approx(config.rope_parameters["rope_theta"])
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(config.rms_norm_eps)

    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == expected_names(config.num_hidden_layers)
    for name, tensor in tensors.items():
        expected = weights[hf_name(name)]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32, name
        assert [int(n) for n in tensor.shape] == list(reversed(expected.shape)), name  # ggml lists dims innermost first
        data = np.asarray(tensor.data)
        if name.endswith(("attn_q.weight", "attn_k.weight")):
            assert not np.array_equal(data, expected), f"{name} was not permuted for llama.cpp's rotary layout"
            data = unpermute(data, config.num_attention_heads)
        np.testing.assert_array_equal(data, expected, err_msg=name)


def test_the_gguf_carries_the_hf_tokenizer_and_f16_halves_the_weights(adapter, planner_model, tmp_path):
    import gguf
    from transformers import AutoTokenizer

    _, version = adapter
    export(version, tmp_path)  # a folder: the file is named inside it
    meta = fields(gguf.GGUFReader(tmp_path / f"planner-{version}-f32.gguf"))
    tokenizer = AutoTokenizer.from_pretrained(planner_model, local_files_only=True)
    tokens, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "gpt-2"
    assert len(tokens) == len(types) == len(tokenizer)
    vocab = tokenizer.get_vocab()
    assert all(tokens[i] == t for t, i in vocab.items())
    for word in [*CATALOG, *SIZES]:  # one token each, matched in text before BPE as HF's added tokens are
        assert types[vocab[word]] == USER_DEFINED, word
    assert {types[i] for i in tokenizer.all_special_ids} == {CONTROL}
    assert types.count(NORMAL) == len(tokenizer) - len(tokenizer.added_tokens_decoder)
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    assert merges and meta["tokenizer.ggml.merges"] == [" ".join(m) for m in merges]
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"],
            meta["tokenizer.ggml.padding_token_id"], meta["tokenizer.ggml.unknown_token_id"]) == (
        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id)  # fmt: skip
    adds_bos = tokenizer("show chiller 1 power")["input_ids"][0] == tokenizer.bos_token_id
    assert meta["tokenizer.ggml.add_bos_token"] is adds_bos and meta["tokenizer.ggml.add_eos_token"] is False

    printed = export(version, tmp_path / "half.gguf", "--gguf-type", "f16")
    assert "MB (f16)" in printed
    half = {t.name: t for t in gguf.GGUFReader(tmp_path / "half.gguf").tensors}
    full = {t.name: t for t in gguf.GGUFReader(tmp_path / f"planner-{version}-f32.gguf").tensors}
    assert fields(gguf.GGUFReader(tmp_path / "half.gguf"))["general.file_type"] == 1
    for name, tensor in half.items():
        kept = name.endswith("_norm.weight")  # llama.cpp's converter keeps norms (1-D) in F32
        assert tensor.tensor_type == (gguf.GGMLQuantizationType.F32 if kept else gguf.GGMLQuantizationType.F16)
        np.testing.assert_allclose(np.asarray(tensor.data, dtype=np.float32), full[name].data, rtol=1e-3, atol=1e-4)


def test_an_unknown_version_is_a_command_error(settings, tmp_path):
    settings.PLANNER_DIR = tmp_path / "planner"
    with pytest.raises(CommandError, match=r"no adapter 'v0042'; known: none"):
        export("v0042", tmp_path / "x.gguf")
    with pytest.raises(CommandError, match=r"export needs --out FILE\.gguf"):
        call_command("planner_adapters", "export", "v0042", "--gguf")
    assert not (tmp_path / "x.gguf").exists()
