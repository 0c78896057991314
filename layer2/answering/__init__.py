"""Step 3: each chosen widget's data from the store, and the spoken answer from the same numbers."""
