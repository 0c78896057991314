"""Tier 1: the online low-rank scorer that re-ranks widgets from feedback, per worker, with one trainer."""
