"""Dedup on Beam: exact and URL keys, MinHash LSH, connected components, the final shard writer."""
