"""`corpusmill build`: nightly builds under one output root, each from the input files no earlier complete
build processed, resumable after a kill, with `latest` switched only when a build completes."""
