"""Tier 2: the planner model's LoRA adapters, trained on preference pairs and promoted only if better."""
