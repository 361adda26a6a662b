"""MinHash, LSH parameters, candidate pairs and connected components, without Beam."""

import random

import numpy as np
import pytest

from corpusmill.filters.dedup import components
from corpusmill.filters.dedup.candidates import find_candidates
from corpusmill.filters.dedup.keys import Rank, SurvivorRule, text_key, url_key
from corpusmill.filters.dedup.minhash import ShingleSpec, band_hashes, jaccard, shingles, signatures
from corpusmill.schemas.banding import candidate_probability, optimal_bands
from corpusmill.schemas.config import MinHashConfig, SurvivorConfig
from corpusmill.schemas.records import Document

DEFAULT_SHINGLES = ShingleSpec.of(MinHashConfig())  # word 5-grams, lower case

TEXT = ("the quick brown fox jumps over the lazy dog while the farmer watches from the old wooden "
        "fence and thinks about the harvest that will come when the autumn rains arrive in the valley")


def test_numpy_and_datasketch_signatures_are_identical():
    sets = [shingles(TEXT, "en", DEFAULT_SHINGLES), shingles(TEXT[:60], "en", DEFAULT_SHINGLES),
            np.empty(0, dtype=np.uint32)]
    a = signatures(sets, 128, 7, "numpy")
    b = signatures(sets, 128, 7, "datasketch")
    assert a.dtype == np.uint32 and a.shape == (3, 128)
    assert (a == b).all()
    assert (a[2] == np.iinfo(np.uint32).max).all()


def test_signature_estimate_tracks_exact_jaccard():
    words = TEXT.split() * 4
    edited = list(words)
    for i in range(0, len(edited), 25):
        edited[i] = f"changed{i}"
    sa, sb = shingles(" ".join(words), "en", DEFAULT_SHINGLES), shingles(" ".join(edited), "en", DEFAULT_SHINGLES)
    sig = signatures([sa, sb], 256, 1)
    assert abs(float(np.mean(sig[0] == sig[1])) - jaccard(sa, sb)) < 0.1


def test_shingles_edge_cases():
    spec = DEFAULT_SHINGLES
    assert len(shingles("", "en", spec)) == 0
    assert len(shingles("!!! ...", "en", spec)) == 0
    assert len(shingles("hello", "en", spec)) == 1
    assert (shingles("Hello, World again and again", "en", spec) == shingles("hello world again and again", "en",
                                                                              spec)).all()
    chars = shingles("abcdefgh", "en", ShingleSpec("char", 3, True))
    assert len(chars) == 6


def test_cjk_is_shingled_by_words_not_as_one_token():
    zh = "我们今天去图书馆看书，然后一起吃晚饭，晚上回家以后继续学习数学和历史。"
    assert len(shingles(zh, "zh", ShingleSpec("word", 2, True))) > 5
    assert len(shingles(zh, None, ShingleSpec("word", 2, True))) > 5  # script recognised without a label
    ja = "私は今日図書館に行きました。そして友達と一緒に晩ご飯を食べました。"
    assert len(shingles(ja, "ja", ShingleSpec("word", 2, True))) > 5


def test_jaccard():
    a = np.array([1, 2, 3, 4], dtype=np.uint32)
    b = np.array([3, 4, 5], dtype=np.uint32)
    assert jaccard(a, b) == 2 / 5
    assert jaccard(a[:0], b[:0]) == 1.0


def test_bands_derived_for_recall():
    bands, rows = optimal_bands(0.8, 128, 0.05, 0.95)
    assert bands * rows <= 128
    assert candidate_probability(0.85, bands, rows) > 0.99
    assert candidate_probability(0.3, bands, rows) < 0.01
    assert optimal_bands(0.8, 128, 0.5, 0.5)[1] > rows  # balanced weights trade recall for precision


def test_band_hashes_differ_between_bands_for_equal_values():
    sig = np.zeros((1, 8), dtype=np.uint32)
    h = band_hashes(sig, 4, 2)
    assert len(set(h[0].tolist())) == 4


def _candidates(entries, max_pairwise):
    band = np.array([e[0] for e in entries], dtype=np.uint16)
    hashes = np.array([e[1] for e in entries], dtype=np.uint64)
    return find_candidates(band, hashes, [e[2] for e in entries], max_pairwise)


def _rank(doc_id, earlier=1):
    return Rank(earlier, 0.0, 0, doc_id, 1)


def test_candidates_from_shared_buckets_only():
    a, b, c, old = _rank("a"), _rank("b"), _rank("c"), _rank("old", earlier=0)
    entries = [(0, 11, a), (0, 11, b), (1, 22, b), (1, 22, c), (0, 33, c), (2, 44, old), (2, 44, a), (1, 11, c)]
    assert sorted(_candidates(entries, 50)) == sorted([(a, b), (b, c), (old, a)])
    # two earlier documents are never paired
    assert list(_candidates([(0, 1, _rank("x", 0)), (0, 1, _rank("y", 0))], 50)) == []


def test_huge_buckets_pair_with_first_members_only():
    members = [_rank(f"d{i:03d}") for i in range(100)]
    pairs = list(_candidates([(0, 5, m) for m in members], 3))
    assert len(pairs) == 1 + 2 + 97 * 3  # members 1 and 2 pair with those before them, the rest with 3
    assert all(a < b for a, b in pairs)


def _components(edges, rounds=20):
    directed = set()
    for u, v in edges:
        directed |= {(u, v), (v, u)}
    for _ in range(rounds):
        stepped = set()
        for u, v in components.large_star(components.adjacency(directed)):
            stepped |= {(u, v), (v, u)}
        again = set()
        for u, v in components.small_star(components.adjacency(stepped)):
            again |= {(u, v), (v, u)}
        if again == directed:
            break
        directed = again
    return dict(components.labels(components.adjacency(directed)))


@pytest.mark.parametrize("seed", range(20))
def test_star_iteration_finds_connected_components(seed):
    rnd = random.Random(seed)
    n = rnd.randint(2, 80)
    edges = [(rnd.randrange(n), rnd.randrange(n)) for _ in range(rnd.randint(1, 100))]
    if seed % 3 == 0:  # long chains are the slow case
        edges = [(i, i + 1) for i in range(n - 1)]
        rnd.shuffle(edges)
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    labels = _components(edges)
    for u, label in labels.items():
        assert label == min(w for w in range(n) if find(w) == find(u))


def test_keys_and_survivor_rule():
    assert text_key("Hello   World\n") == text_key("hello world")
    assert text_key("hello world") != text_key("hello world!")
    assert url_key("https://www.Example.com/a/?q=1#top") == url_key("http://example.com/a?q=1")
    assert url_key(None) is None
    short = Document(id="b", text="short", source="t", input_file="f", signals={"q": 0.9})
    long = Document(id="a", text="a much longer text", source="t", input_file="f", signals={"q": 0.1})
    assert SurvivorRule().rank(long) < SurvivorRule().rank(short)
    by_signal = SurvivorRule(SurvivorConfig(quality_signal="q"))
    assert by_signal.rank(short) < by_signal.rank(long)
    shorter = SurvivorRule(SurvivorConfig(prefer_longer=False))
    assert shorter.rank(short) < shorter.rank(long)


def test_hash_caches_are_safe_across_threads(monkeypatch):
    """Beam runs a worker's bundles on several threads: the token-hash cache is emptied when full and the
    powers table grows while other threads read them. Every thread must get the single-threaded answer."""
    from concurrent.futures import ThreadPoolExecutor

    from corpusmill.core import ngram_hashes

    monkeypatch.setattr(ngram_hashes, "MAX_CACHED_TOKENS", 50)  # the cache is replaced every few calls
    monkeypatch.setattr(ngram_hashes, "_TOKEN_HASHES", [{}])
    monkeypatch.setattr(ngram_hashes, "_POWERS", [(np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))])
    texts = [" ".join(f"w{i}x{j}" for j in range(5 + 37 * i)) for i in range(60)]  # ever longer: powers grow
    expected = [(ngram_hashes.spaced_word_hashes(t), ngram_hashes.token_hashes(t.split())) for t in texts]
    monkeypatch.setattr(ngram_hashes, "_POWERS", [(np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))])

    def run(i: int) -> bool:
        t = texts[i % len(texts)]
        words, tokens = ngram_hashes.spaced_word_hashes(t), ngram_hashes.token_hashes(t.split())
        want = expected[i % len(texts)]
        return np.array_equal(words, want[0]) and np.array_equal(tokens, want[1])

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(run, range(3000)))


def test_default_bands_find_99_percent_of_pairs_at_the_threshold():
    """Verification keeps precision, so banding is chosen for recall: 16 x 8 finds only 94.7% of pairs at
    exactly 0.8."""
    for threshold in (0.7, 0.8, 0.9):
        cfg = MinHashConfig(threshold=threshold)
        assert candidate_probability(threshold, cfg.bands, cfg.rows) >= 0.99, (threshold, cfg.bands, cfg.rows)
        assert cfg.bands * cfg.rows <= cfg.num_perm
    assert (MinHashConfig().bands, MinHashConfig().rows) == (16, 6)
    assert candidate_probability(0.8, 16, 8) < 0.95
    assert (MinHashConfig(bands=16, rows=8).bands, MinHashConfig(bands=16, rows=8).rows) == (16, 8)  # as given
