"""Storing articles for search: chunking, embedding, the persisted index and the indexer that keeps it in step with the corpus."""
