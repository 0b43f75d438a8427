"""The referral domain's GraphQL: the tree, share links and attribution as clients see them."""
