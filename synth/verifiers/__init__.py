"""Judging a sample: trace checks, math answers with math-verify, code in the bubblewrap sandbox."""
