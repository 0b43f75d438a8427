"""Pintuan: a GraphQL API server for headless social storefronts."""
