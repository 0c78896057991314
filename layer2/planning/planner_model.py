"""Building a planner language model from nothing: our own tokenizer and a small Llama-style model.

No model can be downloaded here and a customer may have none, so the
project can make one: a byte-level BPE tokenizer trained (``tokenizers``)
on the planner's own prompts and plans, and a small ``LlamaForCausalLM``
with random weights, saved as a normal model folder that ``transformers``
loads. ``bootstrap_planner`` then teaches it to write plans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


@dataclass(frozen=True)
class PlannerModelConfig:
    """Size of a planner model built from scratch (defaults: ~0.4 M parameters, trains on a CPU in minutes)."""

    vocab_size: int = field(default=1024, metadata={"help": "The tokenizer's target vocabulary."})
    hidden_size: int = field(default=64, metadata={"help": "Width of the residual stream."})
    intermediate_size: int = field(default=192, metadata={"help": "Width of the MLP."})
    num_hidden_layers: int = field(default=2, metadata={"help": "Transformer layers."})
    num_attention_heads: int = field(default=4, metadata={"help": "Attention heads (they divide hidden_size)."})
    max_position_embeddings: int = field(default=512, metadata={"help": "Longest prompt + plan, in tokens."})

    def __post_init__(self) -> None:
        if self.num_attention_heads < 1:
            raise ValueError(f"num_attention_heads must be at least 1, got {self.num_attention_heads!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size must divide by num_attention_heads ({self.num_attention_heads!r}), "
                f"got {self.hidden_size!r}"
            )
        if self.vocab_size < 300:
            raise ValueError(f"vocab_size must be at least 300 (256 bytes + merges), got {self.vocab_size!r}")


def build_tokenizer(corpus: Iterable[str], vocab_size: int, words: Iterable[str] = ()):
    """A byte-level BPE tokenizer trained on ``corpus``, wrapped for ``transformers``.

    Each of ``words`` (the widget types and sizes) becomes one token wherever
    it stands as a whole word. BPE alone split ``trend_line`` into ``trend``,
    ``_``, ``line``, spelt differently after a space (the prompt's WIDGETS
    line) than after a quote (the plan): the model then had to learn to copy
    pieces, and after preference training it wrote types such as ``trend``
    or ``trend_summary`` that do not exist.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    tokenizer.add_tokens([AddedToken(w, single_word=True, normalized=False) for w in words])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def build_model(tokenizer, config: PlannerModelConfig):
    """A ``LlamaForCausalLM`` with random weights sized by ``config``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads,
        max_position_embeddings=config.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(llama)


def save_planner(model, tokenizer, path: Path, config: PlannerModelConfig) -> Path:
    """Write a model folder ``transformers`` can load (safetensors weights, tokenizer, our build config)."""
    import json

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "planner_build.json").write_text(json.dumps(asdict(config), indent=2))
    return path
