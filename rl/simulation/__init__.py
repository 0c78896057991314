"""Imitations of the plant's people and situations, for measuring and testing the learners."""
