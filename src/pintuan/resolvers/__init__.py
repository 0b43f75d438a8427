"""Domain operations: plain Python in, plain Python out; no GraphQL types."""
