"""The referrals domain's GraphQL types, queries and mutations."""
