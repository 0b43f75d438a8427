"""The communities GraphQL surface: types, loaders, queries and mutations."""
