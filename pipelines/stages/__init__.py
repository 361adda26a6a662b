"""One module per stage, each with `build`, `step_order`, `tables` and `spec(args)` for the launcher."""

from corpusmill.pipelines.stages import code, curate, dedup, mix, synth, verify

STAGES = {"curate": curate, "dedup": dedup, "synth": synth, "verify": verify, "code": code, "mix": mix}
