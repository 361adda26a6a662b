"""Per-document filters (quality rules, language, PII, decontamination) behind one registry, and the
dedup logic in filters/dedup/. Pure Python over plain records: no Beam imports here."""
