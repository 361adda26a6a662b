"""The mixture's token shards read by Megatron-LM's own reader (megatron-core's IndexedDataset), as a
pretraining job reads them. megatron-core imports torch, so this runs in the torch venv of
`make test-vllm` (.venv-vllm), where it is required; elsewhere it skips."""

import warnings
from pathlib import Path

import pyarrow.parquet as pq

from corpusmill.core.bpe import default_tokenizer_path
from tests.conftest import run_cli, skip_or_fail

ROOT = Path(__file__).parent.parent


def test_megatron_core_reads_the_token_shards(tmp_path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from megatron.core.datasets.indexed_dataset import IndexedDataset
    except ImportError as err:
        skip_or_fail("megatron", f"megatron-core is not installed here: {err}")
    from tokenizers import Tokenizer

    from tests.test_mix import _deepseek_math

    out = tmp_path / "out"
    assert run_cli("mix", "--config", str(_deepseek_math(tmp_path)), "--output", str(out)) == 0
    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    eod = tokenizer.token_to_id("<|end_of_text|>")
    parts = sorted((out / "documents").glob("part-*.parquet"))
    assert len(parts) >= 2
    for part in parts:
        texts = pq.read_table(part, columns=["text"]).column("text").to_pylist()
        dataset = IndexedDataset(str(out / "tokens" / part.name.removesuffix(".parquet")))
        assert len(dataset) == len(texts)
        assert list(dataset.document_indices) == list(range(len(texts) + 1))
        for i, text in enumerate(texts):
            assert dataset[i].tolist() == tokenizer.encode(text, add_special_tokens=False).ids + [eod]
