"""Beam wiring: PTransforms around filters/ and synth/, the stage pipelines and the CLI."""
