"""The SQL store: schema, engines, bulk loads and the queries the product shares."""
