"""Pure helpers shared by filters/, synth/ and pipelines/: word splitting, n-gram hashes, repetition
statistics, language ID, HTML extraction and time-limited calls. No Beam imports here."""
