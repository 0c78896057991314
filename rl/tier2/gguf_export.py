"""The merged planner as one GGUF file, for llama.cpp and Ollama (``planner_adapters export VERSION --gguf``).

The adapter is merged by ``export_merged`` (``rl/tier2/export.py``) into a
temporary model folder, which is then written the way llama.cpp's
``convert_hf_to_gguf.py`` writes a ``LlamaForCausalLM`` (its ``LlamaModel``
class): gguf-py's ``GGUFWriter`` and tensor name map, q/k projections
permuted to llama.cpp's rotary layout, no ``output.weight`` when the
embeddings are tied, and the tokenizer as a ``gpt2`` BPE vocabulary.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rl.tier2.adapters import Registry
from rl.tier2.export import export_merged

logger = logging.getLogger(__name__)

GGUF_TYPES = ("f32", "f16")  # norms and other 1-D tensors stay F32 in both, as llama.cpp's converter keeps them
# llama.cpp's name for the GPT-2 byte-level split regex, which HF's ByteLevel pre-tokenizer (use_regex) applies.
# convert_hf_to_gguf.py finds the name by hashing the tokens of a test text against published models; a
# tokenizer trained here matches none of them, so the name is chosen from the pre-tokenizer itself.
PRE_TOKENIZER = "gpt-2"


class UnsupportedModel(ValueError):
    """A model folder this writer cannot convert faithfully (not Llama, or not a byte-level BPE tokenizer)."""


@dataclass(frozen=True)
class GGUFReport:
    path: Path
    tensors: int
    parameters: int
    bytes: int
    dtype: str


def export_gguf(*, registry: Registry, version: str, base_model: Path, out: Path, dtype: str = "f32") -> GGUFReport:
    """The base model with adapter ``version`` merged in, as a GGUF file at ``out`` (a folder: a file inside)."""
    out = Path(out)
    if out.is_dir():
        out = out / f"planner-{version}-{dtype}.gguf"
    registry.path(version)  # an unknown version fails before anything is loaded
    with tempfile.TemporaryDirectory(prefix="planner-merge-") as tmp:
        merged = export_merged(registry=registry, version=version, base_model=base_model, out=Path(tmp) / "merged")
        return write_gguf(model_dir=merged, out=out, dtype=dtype, name=f"planner {version}")


def write_gguf(*, model_dir: Path, out: Path, dtype: str = "f32", name: str | None = None) -> GGUFReport:
    """A ``LlamaForCausalLM`` folder (safetensors, byte-level BPE tokenizer) written as GGUF at ``out``."""
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    if dtype not in GGUF_TYPES:
        raise ValueError(f"dtype must be one of {', '.join(GGUF_TYPES)}, got {dtype!r}")
    model_dir, out = Path(model_dir), Path(out)
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    _check_model(config)
    _check_tokenizer(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name or model_dir.name)
    _add_hyperparameters(writer, config, dtype)
    _add_tokenizer(writer, tokenizer, model_dir, config.vocab_size)
    tensors = parameters = 0
    for gguf_name, array, qtype in _tensors(model_dir, config, dtype):
        writer.add_tensor(gguf_name, array, raw_dtype=qtype)
        tensors, parameters = tensors + 1, parameters + array.size
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    partial = out.with_name(out.name + ".partial")  # the file appears whole or not at all
    out.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file(path=partial)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, out)
    report = GGUFReport(out, tensors, parameters, out.stat().st_size, dtype)
    logger.info("GGUF %s: %d tensors, %d parameters, %d bytes (%s)", out, tensors, parameters, report.bytes, dtype)
    return report


def _check_model(config) -> None:
    if config.model_type != "llama":
        raise UnsupportedModel(f"only Llama models are written as GGUF here, got model_type {config.model_type!r}")
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":  # scaled rope would need llama.cpp's rope scaling keys
        raise UnsupportedModel(f"rope scaling {rope.get('rope_type')!r} is not supported, only plain rope")


def _check_tokenizer(model_dir: Path) -> None:
    """The tokenizer must be what ``gpt-2`` tells llama.cpp: byte-level BPE split by the GPT-2 regex, no normalizer."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise UnsupportedModel(f"no tokenizer.json in {model_dir}: only fast byte-level BPE tokenizers are supported")
    spec = json.loads(path.read_text())
    pre = spec.get("pre_tokenizer") or {}
    if (
        spec.get("model", {}).get("type") != "BPE"
        or spec.get("normalizer")
        or pre.get("type") != "ByteLevel"
        or not pre.get("use_regex", True)
        or pre.get("add_prefix_space")
    ):
        raise UnsupportedModel(
            f"tokenizer in {model_dir} is not byte-level BPE with the GPT-2 split (pre-tokenizer {pre!r}, "
            f"normalizer {spec.get('normalizer')!r})"
        )


def _add_hyperparameters(writer, config, dtype: str) -> None:
    """``TextModel.set_gguf_parameters`` and ``LlamaModel.set_gguf_parameters`` of convert_hf_to_gguf.py."""
    import gguf

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_vocab_size(config.vocab_size)
    writer.add_rope_dimension_count(head_dim)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)


def _add_tokenizer(writer, tokenizer, model_dir: Path, vocab_size: int) -> None:
    """``_set_vocab_gpt2``: tokens and types, merges and special ids (gguf.SpecialVocab), add-BOS/EOS as HF does."""
    import gguf

    tokens, types = vocabulary(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(PRE_TOKENIZER)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    # SpecialVocab reads these flags from tokenizer_config.json or the post-processor template, and leaves them
    # unset when neither says; llama.cpp then applies its own default. What HF does with a text is the truth.
    ids = tokenizer("a")["input_ids"]
    special.add_special_token["bos"] = tokenizer.bos_token_id is not None and ids[:1] == [tokenizer.bos_token_id]
    special.add_special_token["eos"] = tokenizer.eos_token_id is not None and ids[-1:] == [tokenizer.eos_token_id]
    special.add_to_gguf(writer, quiet=True)


def vocabulary(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """(token texts, token types) by id, as ``TextModel.get_vocab_base`` of convert_hf_to_gguf.py builds them.

    Special added tokens are CONTROL; other added tokens (the widget types and sizes) USER_DEFINED, which
    llama.cpp matches in text before BPE, as HF does with added tokens.
    """
    import gguf

    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder  # {id: AddedToken}
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:  # the embedding has rows the tokenizer never uses
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        token = by_id[i]
        if i in added:
            if not added[i].normalized:  # llama.cpp expects added tokens pre-normalized
                token = tokenizer.decode(tokenizer.encode(token, add_special_tokens=False))
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, types


def rotary_permute(weights, n_head: int):
    """q/k rows from HF's rotate-half layout to llama.cpp's interleaved pairs (``LlamaModel.permute``).

    (n_head * head_dim, ...) -> the same shape, each head's rows reordered.
    """
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _tensors(model_dir: Path, config, dtype: str) -> Iterator[tuple[str, object, object]]:
    """(GGUF name, numpy array, GGML type) of every weight, mapped by gguf-py's tensor name map."""
    import gguf
    from safetensors import safe_open

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise UnsupportedModel(f"no safetensors weights in {model_dir}")
    for file in files:
        with safe_open(str(file), framework="pt") as weights:
            stored = weights.keys()  # a safetensors handle is not iterable itself
            for name in stored:
                if name.endswith(".rotary_emb.inv_freq"):  # recomputed by llama.cpp from the rope keys
                    continue
                if name == "lm_head.weight" and config.tie_word_embeddings:  # llama.cpp reuses token_embd
                    continue
                gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
                if gguf_name is None:
                    raise UnsupportedModel(f"no GGUF name for tensor {name!r}")
                yield gguf_name, *_converted(weights.get_tensor(name), name, gguf_name, config, dtype)


def _converted(tensor, name: str, gguf_name: str, config, dtype: str):
    import gguf

    tensor = tensor.float()
    if name.endswith(("q_proj.weight", "q_proj.bias")):
        tensor = rotary_permute(tensor, config.num_attention_heads)
    elif name.endswith(("k_proj.weight", "k_proj.bias")):
        tensor = rotary_permute(tensor, config.num_key_value_heads)
    array = tensor.numpy()
    if dtype == "f32" or array.ndim <= 1 or gguf_name.endswith("_norm.weight"):
        return array, gguf.GGMLQuantizationType.F32
    return gguf.quants.quantize(array, gguf.GGMLQuantizationType.F16), gguf.GGMLQuantizationType.F16
