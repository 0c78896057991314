"""List, promote, roll back and export the planner's LoRA adapters."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rl.tier2.adapters import NothingToRollBack, UnknownAdapter, get_registry
from rl.tier2.export import export_merged
from rl.tier2.gguf_export import GGUF_TYPES, UnsupportedModel, export_gguf
from rl.tier2.records import CorruptAdapter


class Command(BaseCommand):
    help = (
        "Manage Tier 2 adapters: `list` (versions, metrics, which serves), `promote VERSION`, `rollback` "
        "(serve the previous one, or the base model), `export VERSION --out DIR` (base model with the adapter "
        "merged in, as safetensors; with --gguf one GGUF file for llama.cpp and Ollama)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "promote", "rollback", "export"], help="What to do.")
        parser.add_argument("version", nargs="?", help="Adapter version (promote, export), e.g. v0003.")
        parser.add_argument(
            "--out", help="Folder for the merged model (export); with --gguf the .gguf file, or a folder to put it in."
        )
        parser.add_argument(
            "--gguf",
            action="store_true",
            help="export: write the merged model as one GGUF file (llama.cpp's Llama layout and gpt2 BPE tokenizer) "
            "for llama.cpp, llama-cpp-python and Ollama, instead of a safetensors folder.",
        )
        parser.add_argument(
            "--gguf-type",
            choices=GGUF_TYPES,
            default="f32",
            help="Weight type of the GGUF file: f32 (exact) or f16 (half the size); norms stay f32 (default: f32).",
        )

    def handle(self, *args, action, version, out, gguf, gguf_type, **options):
        registry = get_registry()
        try:
            if action == "list":
                self._list(registry)
            elif action == "rollback":
                serving = registry.rollback()
                self.stdout.write(f"rolled back: now serving {serving or 'the base model alone'}")
            elif not version:
                raise CommandError(f"{action} needs a VERSION (see `planner_adapters list`)")
            elif action == "promote":
                registry.promote(version)
                self.stdout.write(f"promoted {version}: every worker serves it from its next question")
            else:
                if not out:
                    raise CommandError(f"export needs --out {'FILE.gguf' if gguf else 'DIR'}")
                self._export(registry, version, Path(out), gguf_type if gguf else None)
        except (UnknownAdapter, NothingToRollBack, CorruptAdapter, UnsupportedModel) as error:
            raise CommandError(str(error)) from error

    def _export(self, registry, version: str, out: Path, gguf_type: str | None) -> None:
        base_model = Path(settings.PLANNER_MODEL_PATH)
        if gguf_type is None:
            path = export_merged(registry=registry, version=version, base_model=base_model, out=out)
            self.stdout.write(f"merged model written to {path}")
            return
        report = export_gguf(registry=registry, version=version, base_model=base_model, out=out, dtype=gguf_type)
        self.stdout.write(
            f"GGUF written to {report.path}: {report.tensors} tensors, {report.parameters:,} parameters, "
            f"{report.bytes / 1e6:.2f} MB ({report.dtype})"
        )

    def _list(self, registry) -> None:
        active = registry.active()
        records = registry.versions()
        if not records:
            self.stdout.write("no adapters yet: the base model serves alone")
            return
        for r in records:
            c = r.metrics.get("candidate", {})
            mark = "*" if r.version == active else " "
            self.stdout.write(
                f"{mark} {r.version}  {r.created_at:%Y-%m-%d %H:%M}  {r.method:3s}  pairs {r.data.get('pairs', 0):5d}  "
                f"accuracy {c.get('preference_accuracy', 0):.3f}  margin {c.get('reward_margin', 0):+.4f}  "
                f"judge {c.get('plan_quality', {}).get('offline_judge', float('nan')):+.3f}  "
                f"unconstrained valid {c.get('valid_json_rate', 0):.1%}  {'promoted' if r.promoted else 'kept'}"
            )
        self.stdout.write(f"serving: {active or 'the base model alone'} (* marks it)")
