"""Greedy decoding that can only write a valid plan: xgrammar masks every token the plan grammar forbids.

Chosen over outlines, lm-format-enforcer and transformers-cfg by
``bench/constrained_decoding.py`` (docs/benchmarks.md): it reads the EBNF of
``plan_grammar`` as is, compiles a grammar in milliseconds (cached by its
text), takes one grammar per row of a batch (the gate decodes prompts with
different offers together), and works with transformers 5 and our own
tokenizer. A compiler is bound to one tokenizer, so a ``PlanConstraint`` is
made per loaded model.
"""

from __future__ import annotations

from layer2.planning.plan_grammar import plan_ebnf


class PlanConstraint:
    """The plan grammars of one tokenizer, compiled on first use (xgrammar caches them by text)."""

    def __init__(self, *, tokenizer, vocab_size: int):
        import xgrammar as xgr

        # The model's vocabulary may be wider than the tokenizer's (padding rows): masks cover all of it.
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self._compiler = xgr.GrammarCompiler(info, cache_enabled=True)

    @classmethod
    def for_model(cls, model, tokenizer) -> PlanConstraint:
        return cls(tokenizer=tokenizer, vocab_size=model.config.vocab_size)

    def logits_processor(self, offers: list[frozenset[tuple[str, str]]]):
        """A processor for one ``generate`` call whose row i may write only a valid plan over ``offers[i]``.

        xgrammar's processor keeps each row's parse state, so it serves one call only.
        """
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor([self._compiler.compile_grammar(plan_ebnf(offered)) for offered in offers])
