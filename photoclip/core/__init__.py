"""The headless library: catalog, index, models, indexing, search. Never imports Qt."""
