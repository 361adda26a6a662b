"""Synthesis: problem sets, prompt templates, generation backends, the generation cache, verifiers
and rejection sampling. No Beam imports here."""
