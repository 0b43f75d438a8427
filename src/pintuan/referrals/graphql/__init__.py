"""The referral domain's GraphQL types, queries and mutations."""
