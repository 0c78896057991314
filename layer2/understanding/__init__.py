"""Step 1 of a question: what was asked (the intent), in the plant's words, and who is asking."""
