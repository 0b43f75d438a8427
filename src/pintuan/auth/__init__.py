"""Who is calling: passwords, tokens, API keys and the permission checks built on them."""
