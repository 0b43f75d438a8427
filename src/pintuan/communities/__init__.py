"""Communities: spaces where members post, share live group buys and show what they bought."""
