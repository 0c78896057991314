"""The judges: Claude's and the offline rubric's rich evaluations of answers, and the run that posts them."""
