"""Every answer as an experience in the journal all workers share, and what its feedback is worth."""
