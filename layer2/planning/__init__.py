"""Step 2: which widgets answer it, at which size (rules, a ranker, or the planner model)."""
