"""Dedup logic: duplicate keys and survivor ranking, MinHash signatures, LSH candidates and connected
components, as pure functions that pipelines/transforms/dedup/ wires into Beam."""
