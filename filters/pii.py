"""E-mail and IP address redaction, as a filter that keeps every document and rewrites its text.

The patterns follow datatrove's PIIFormatter (itself from the BigScience/StarCoder PII
work); replacements are fixed strings so outputs stay deterministic.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import ClassVar

from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.config import PiiConfig
from corpusmill.schemas.records import Document

_EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\b"
)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
# What every match of the patterns above contains. Most pages have none of it, and looking for it costs
# a tenth of a failed pass of the full pattern, which tries every position (bench/per_doc_costs.py).
_IPV4_PART = re.compile(r"\d\.\d")
_IPV6_PART = re.compile(r":[0-9A-Fa-f]{0,4}:")


def _public_ip(candidate: str) -> bool:
    """True for a valid, globally routable address: private, loopback and reserved ones (and digit runs
    that are no address, such as `999.1.1.1`) are left as they are, as FineWeb does."""
    try:
        return ipaddress.ip_address(candidate).is_global
    except ValueError:
        return False


@register("pii_redaction_v1")
@dataclass(frozen=True)
class PiiRedaction:
    """Replace e-mail addresses and public IP addresses with fixed placeholders."""

    params_model: ClassVar = PiiConfig
    params: PiiConfig = field(default_factory=PiiConfig)

    def score_names(self) -> tuple[str, ...]:
        return ("pii.emails", "pii.ip_addresses")

    def __call__(self, doc: Document) -> Verdict:
        p = self.params
        text = doc.text
        n_email = n_ip = 0
        if p.redact_emails and "@" in text:
            text, n_email = _EMAIL.subn(p.email_replacement, text)
        if p.redact_ip_addresses:
            count = 0

            def replace(match: re.Match[str]) -> str:
                nonlocal count
                if _public_ip(match.group(0)):
                    count += 1
                    return p.ip_replacement
                return match.group(0)

            if _IPV4_PART.search(text):
                text = _IPV4.sub(replace, text)
            if _IPV6_PART.search(text):  # after the IPv4 replacement, which may hold colons
                text = _IPV6.sub(replace, text)
            n_ip = count
        return Verdict.rewrite(text, **{"pii.emails": float(n_email), "pii.ip_addresses": float(n_ip)})
