"""The generation cache."""

from corpusmill.pipelines.io.generation_cache import GenerationCache
from corpusmill.schemas.config import SamplingConfig
from corpusmill.schemas.samples import CachedSample
from corpusmill.synth.cache import cache_partition, partition_folder, sample_key

ASK = [{"role": "user", "content": "What is 2 + 2?"}]


def test_keys_depend_on_everything_but_n():
    p = SamplingConfig(n=4, seed=1)
    base = sample_key("p1", ASK, "r1_v1", "m", p, 0)
    assert base == sample_key("p1", ASK, "r1_v1", "m", SamplingConfig(n=8, seed=1), 0)
    changed_prompt = [{"role": "user", "content": "What is 2 + 3?"}]
    other_seed = SamplingConfig(seed=2)
    variants = {base, sample_key("p2", ASK, "r1_v1", "m", p, 0), sample_key("p1", ASK, "chat_v1", "m", p, 0),
                sample_key("p1", ASK, "r1_v1", "m2", p, 0), sample_key("p1", ASK, "r1_v1", "m", other_seed, 0),
                sample_key("p1", ASK, "r1_v1", "m", p, 1), sample_key("p1", changed_prompt, "r1_v1", "m", p, 0)}
    assert len(variants) == 7


def test_samples_survive_and_half_written_lines_are_skipped(tmp_path):
    cache = GenerationCache(str(tmp_path / "cache"))
    part = cache_partition("p1")
    assert cache.load_partition(part) == {}
    cache.add([CachedSample("k1", "p1", 0, "text one", "stop")])
    cache.add([CachedSample("k2", "p1", 1, "text two", "length")])
    crashed = tmp_path / "cache" / partition_folder(part) / "part-crashed.jsonl"
    crashed.write_text('{"key": "k3", "problem_id": "p1", "ind')
    loaded = GenerationCache(str(tmp_path / "cache")).load_partition(part)
    assert sorted(loaded) == ["k1", "k2"] and loaded["k2"].finish_reason == "length"
    other = next(p for p in ("p2", "p3", "p4") if cache_partition(p) != part)
    assert GenerationCache(str(tmp_path / "cache")).load_partition(cache_partition(other)) == {}
