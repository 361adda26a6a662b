"""A near-duplicate corpus with known ground truth, from real text.

Base documents come from ../shared/data (Wikipedia articles cut into ~600-word pieces,
C4 and DCLM web documents, news article bodies of the extraction benchmark, Shakespeare)
when it is there, else from the samples in tests/data (and the script says so). For
speed runs, more documents are made by concatenating paragraph windows of random base
documents. A share of documents gets 1-3 variants made by word insertions, deletions,
substitutions and boilerplate (header/footer) changes. Everything is seeded.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
BOILERPLATE = [
    "Subscribe to our newsletter to get the latest stories delivered straight to your inbox every morning.",
    "This article was updated to reflect new information. All rights reserved by the publisher.",
    "Share this story on social media and follow us for more updates from our newsroom team.",
    "Cookies help us deliver our services. By using our services you agree to our use of cookies.",
]


def base_texts() -> tuple[list[str], str]:
    """Real texts of at least 80 words, and a line saying where they came from."""
    texts: list[str] = []
    if SHARED.is_dir():
        for line in (SHARED / "text_corpora/llamafactory_wiki_demo.txt").read_text().splitlines():
            words = line.split()
            texts += [" ".join(words[i : i + 600]) for i in range(0, len(words) - 300, 600)]
        texts += [d["text"] for d in json.loads((SHARED / "text_corpora/llamafactory_c4_demo.json").read_text())]
        for name in ("dclm_human_annotations_majority.jsonl",):
            texts += [json.loads(line)["text"] for line in (SHARED / "quality" / name).read_text().splitlines()]
        truth = json.loads((SHARED / "web/html_extraction_benchmark/ground-truth.json").read_text())
        texts += [v["articleBody"] for v in truth.values()]
        play = (SHARED / "text_corpora/tinyshakespeare.txt").read_text().split("\n\n")
        texts += ["\n\n".join(play[i : i + 40]) for i in range(0, len(play) - 40, 40)]
        where = f"{SHARED} (Wikipedia, C4, DCLM, news articles, Shakespeare)"
    else:
        for path in sorted((ROOT / "tests/data/text").glob("*.jsonl*")):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as f:
                texts += [json.loads(line)["text"] for line in f if line.strip()]
        where = "tests/data/text only: ../shared/data is not here, so the corpus is small"
    texts = [t for t in texts if len(t.split()) >= 80]
    return sorted(set(texts)), where


def mix(bases: list[str], n: int, rnd: random.Random) -> list[str]:
    """`n` new documents of about 550 words, made of paragraph windows of random base documents."""
    paragraphs = [p for t in bases for p in t.split("\n") if len(p.split()) >= 20] or bases
    out = []
    for _ in range(n):
        parts, length = [], 0
        while length < 550:
            words = rnd.choice(paragraphs).split()
            start = rnd.randrange(max(1, len(words) - 150))
            window = words[start : start + 150]
            parts.append(" ".join(window))
            length += len(window)
        out.append("\n".join(parts))
    return out


def variant(text: str, rnd: random.Random) -> str:
    """A copy with a few percent of words inserted, deleted or substituted, maybe new boilerplate."""
    words = text.split()
    rate = rnd.choice([0.01, 0.02, 0.04, 0.07, 0.1, 0.15])
    out = []
    for w in words:
        r = rnd.random()
        if r < rate / 3:
            continue  # deletion
        if r < 2 * rate / 3:
            out.append(f"w{rnd.randrange(10**6)}")  # substitution
            continue
        out.append(w)
        if r < rate:
            out.append(f"i{rnd.randrange(10**6)}")  # insertion
    body = " ".join(out)
    if rnd.random() < 0.5:
        body = rnd.choice(BOILERPLATE) + "\n" + body
    if rnd.random() < 0.5:
        body = body + "\n" + rnd.choice(BOILERPLATE)
    return body


def make_corpus(n_docs: int | None, dup_share: float = 0.3, seed: int = 0) -> tuple[list[dict], str]:
    """Documents [{id, text, group}] where `group` names the original a variant was made from."""
    rnd = random.Random(seed)
    bases, where = base_texts()
    originals = list(bases)
    target_originals = int((n_docs or len(bases) * 1.4) / (1 + dup_share * 2)) + (n_docs or 0) // 50
    if target_originals > len(originals):
        originals += mix(bases, target_originals - len(originals), rnd)
    docs = [{"id": f"o{i:06d}", "text": t, "group": f"o{i:06d}"} for i, t in enumerate(originals)]
    for i, text in enumerate(originals):
        if rnd.random() < dup_share:
            for k in range(rnd.randint(1, 3)):
                docs.append({"id": f"o{i:06d}v{k}", "text": variant(text, rnd), "group": f"o{i:06d}"})
    rnd.shuffle(docs)
    if n_docs is not None:
        docs = docs[:n_docs]
    return docs, where


def write_jsonl(docs: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
