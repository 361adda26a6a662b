"""The generation cache."""

from corpusmill.schemas.config import SamplingConfig
from corpusmill.synth.cache import CachedSample, GenerationCache, sample_key


def test_keys_depend_on_everything_but_n():
    p = SamplingConfig(n=4, seed=1)
    base = sample_key("p1", "r1_v1", "m", p, 0)
    assert base == sample_key("p1", "r1_v1", "m", SamplingConfig(n=8, seed=1), 0)
    assert len({base, sample_key("p2", "r1_v1", "m", p, 0), sample_key("p1", "chat_v1", "m", p, 0),
                sample_key("p1", "r1_v1", "m2", p, 0), sample_key("p1", "r1_v1", "m", SamplingConfig(seed=2), 0),
                sample_key("p1", "r1_v1", "m", p, 1)}) == 6


def test_samples_survive_and_half_written_lines_are_skipped(tmp_path):
    cache = GenerationCache(str(tmp_path / "cache"))
    assert cache.load() == {}
    cache.add([CachedSample("k1", "p1", 0, "text one", "stop")])
    cache.add([CachedSample("k2", "p1", 1, "text two", "length")])
    (tmp_path / "cache" / "part-crashed.jsonl").write_text('{"key": "k3", "problem_id": "p1", "ind')
    loaded = GenerationCache(str(tmp_path / "cache")).load()
    assert sorted(loaded) == ["k1", "k2"] and loaded["k2"].finish_reason == "length"
