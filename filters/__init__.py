"""Pure per-document logic: extraction, language ID, quality rules, PII. No Beam imports here."""
