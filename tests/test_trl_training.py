"""A trainer learns from corpusmill's SFT Parquet: examples/sft_trl.py (TRL's SFTTrainer) and examples/dpo_trl.py
(TRL's DPOTrainer) run in-process on the tiny Llama of tests/tiny_llama.py, on the CPU, for a few dozen steps.

They run where TRL is installed (`make test-vllm`, in .venv-vllm) and skip elsewhere; CORPUSMILL_REQUIRE=trl makes
them fail instead. The conversations are built from tests/data (GSM8K, CMATH, the R1 traces' problems)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import DATA, skip_or_fail

ROOT = Path(__file__).parent.parent
MAX_LENGTH = 512  # the tiny model's max_position_embeddings; every conversation below fits (asserted)
# The tiny model's own template is a generation prompt only ("...assistant:" after every conversation), with no
# end-of-turn token and no {% generation %} markers, so the scripts get this one through --chat-template: the
# assistant's content and </s> inside the generation block, the newline after it outside.
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ 'assistant:\\n' }}"
    "{% generation %}{{ m['content'] + eos_token }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant:\\n' }}{% endif %}"
)
# SFTConfig/DPOConfig flags, passed through: every step's loss logged, no checkpoints, no recomputation (TRL's
# default gradient checkpointing costs a third more time and saves nothing at this size)
EXTRA_ARGS = ["--seed", "0", "--logging_steps", "1", "--save_strategy", "no", "--gradient_checkpointing", "False"]
# Measured with these (seed 0, CPU): SFT's loss on all 32 conversations goes from ln(287 tokens) = 5.64 to 2.86 in
# 20 steps (7 s); DPO's from ln 2 = 0.693 to 0.445 on the 16 pairs in 16 steps (1 s), every pair then ranked right.
# Per-step losses swing with the batch's mix of long and short answers, so the checks measure the whole set.
SFT_STEPS, SFT_LR = 20, 1e-2
DPO_STEPS, DPO_LR, DPO_BETA = 16, 1e-3, 0.5
SYSTEM = "You are a helpful assistant."  # synth/templates/chat_v1.yaml's system turn
MATH_HINT = "\n\nPut your final answer within \\boxed{}."


@pytest.fixture(scope="module")
def trl_ok() -> None:
    if importlib.util.find_spec("trl") is None:
        skip_or_fail("trl", "TRL is not installed here; `make test-vllm` runs these tests in .venv-vllm with trl")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def conversations() -> list[list[dict[str, str]]]:
    """32 fixed conversations, each under MAX_LENGTH tokens: the 5 shortest GSM8K problems with their solutions
    (system, user, assistant), the 4 shortest R1-trace problems with their boxed answers, 15 CMATH problems
    single-turn and 8 two-turn conversations pairing CMATH problems."""
    gsm8k = sorted(_jsonl(DATA / "eval" / "gsm8k_test_head20.jsonl"), key=lambda r: len(r["question"] + r["answer"]))
    traces = {r["problem"]: r["gt_answer"] for r in _jsonl(DATA / "traces" / "r1_think_tagged_math_10.jsonl")}
    cmath = _jsonl(DATA / "eval" / "cmath_test_head20.jsonl")
    convs = []
    for row in gsm8k[:5]:
        solution, answer = row["answer"].rsplit("\n#### ", 1)
        convs.append([{"role": "system", "content": SYSTEM}, {"role": "user", "content": row["question"] + MATH_HINT},
                      {"role": "assistant", "content": f"{solution}\nThe answer is \\boxed{{{answer}}}."}])
    for problem, answer in sorted(traces.items(), key=lambda kv: len(kv[0]))[:4]:
        convs.append([{"role": "user", "content": problem + MATH_HINT},
                      {"role": "assistant", "content": f"\\boxed{{{answer}}}"}])
    for row in cmath[:15]:
        convs.append([{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}])
    for first, second in zip(cmath[:8], cmath[:11:-1], strict=True):
        convs.append([{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["answer"]},
                      {"role": "user", "content": second["question"]},
                      {"role": "assistant", "content": second["answer"]}])
    return convs


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, trl_ok) -> Path:
    from tests.tiny_llama import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory) -> Path:
    """The conversations as corpusmill writes SFT samples: a folder of part-*.parquet with SFT_SCHEMA."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusmill.schemas.tables import SFT_SCHEMA

    folder = tmp_path_factory.mktemp("sft")
    rows = [{"id": f"s{i}", "problem_id": f"p{i}", "source": "tests", "format": "chat", "messages": messages,
             "model": "tiny", "verifier": "math_answer", "input_file": "tests/data", "input_offset": i}
            for i, messages in enumerate(conversations())]
    for part in range(2):
        half = rows[part * 16 : (part + 1) * 16]
        pq.write_table(pa.Table.from_pylist(half, schema=SFT_SCHEMA), folder / f"part-{part:05d}-of-00002.parquet")
    return folder


@pytest.fixture(scope="module")
def sft_run(tiny_model, sft_data, tmp_path_factory):
    sft_trl = _load("sft_trl")
    output = tmp_path_factory.mktemp("sft-out")
    trainer = sft_trl.train([sft_data], str(tiny_model), output, max_steps=SFT_STEPS, lr=SFT_LR, batch_size=4,
                            max_length=MAX_LENGTH, chat_template=CHAT_TEMPLATE, extra_args=EXTRA_ARGS)
    return trainer, output


def _losses(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_sft_loss_falls(sft_run):
    trainer, output = sft_run
    losses = _losses(trainer)
    assert len(losses) == SFT_STEPS
    # step 1's loss is the untrained model's; the end is measured on all 32 conversations, not one batch
    final = trainer.evaluate(trainer.train_dataset)["eval_loss"]
    assert final < 0.7 * losses[0], (final, losses)
    assert sum(losses[-5:]) < sum(losses[:5]), losses
    assert (output / "model.safetensors").exists()
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(output).chat_template == CHAT_TEMPLATE


def test_sft_loss_is_on_the_assistant_turns_only(sft_run):
    """Every batch the trainer draws: labels are the input ids exactly on each assistant turn's content and its </s>,
    -100 on system and user turns, on the template's own text and on padding."""
    trainer, _ = sft_run
    tokenizer = trainer.processing_class
    expected = {}
    for messages in conversations():
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        spans, at = [], 0
        for message in messages:
            if message["role"] == "assistant":
                start = text.index(message["content"] + tokenizer.eos_token, at)
                at = start + len(message["content"] + tokenizer.eos_token)
                spans.append((start, at))
        ids = encoded["input_ids"]
        assert len(ids) < MAX_LENGTH
        labels = [i if any(a <= s and e <= b for a, b in spans) else -100
                  for i, (s, e) in zip(ids, encoded["offset_mapping"], strict=True)]
        # the token boundaries fall on the span boundaries, so the labelled tokens spell the assistant turns
        assert tokenizer.decode([i for i in labels if i != -100]) == "".join(text[a:b] for a, b in spans)
        expected[tuple(ids)] = labels
    seen = 0
    for batch in trainer.get_train_dataloader():
        for ids, labels, attention in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
            n = int(attention.sum())
            assert attention[:n].all() and not attention[n:].any()  # right padding
            want = expected[tuple(ids[:n].tolist())]
            assert labels[:n].tolist() == want
            assert (labels[n:] == -100).all()
            seen += 1
    assert seen == len(expected) == 32


def preference_pairs() -> list[dict]:
    """16 pairs in TRL's conversational preference format, with corpusmill-like extra columns: a CMATH problem,
    its answer as chosen, the next problem's (a different number) as rejected."""
    cmath = _jsonl(DATA / "eval" / "cmath_test_head20.jsonl")[:16]
    pairs = []
    for i, row in enumerate(cmath):
        wrong = next(r["answer"] for r in cmath[i + 1 :] + cmath if r["answer"] != row["answer"])
        pairs.append({"problem_id": f"cmath-{i}", "prompt": [{"role": "user", "content": row["question"]}],
                      "chosen": [{"role": "assistant", "content": row["answer"]}],
                      "rejected": [{"role": "assistant", "content": wrong}], "rejected_reason": "wrong_answer"})
    return pairs


@pytest.fixture(scope="module")
def dpo_run(tiny_model, tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pairs = preference_pairs()
    folder = tmp_path_factory.mktemp("pairs")  # half Parquet, half JSONL: the script reads both
    pq.write_table(pa.Table.from_pylist(pairs[:8]), folder / "part-00000.parquet")
    (folder / "part-00001.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs[8:]),
                                             encoding="utf-8")
    output = tmp_path_factory.mktemp("dpo-out")
    trainer = _load("dpo_trl").train([folder], str(tiny_model), output, max_steps=DPO_STEPS, lr=DPO_LR,
                                     batch_size=4, beta=DPO_BETA, max_length=MAX_LENGTH, chat_template=CHAT_TEMPLATE,
                                     extra_args=EXTRA_ARGS)
    return trainer, output


def test_dpo_prefers_the_chosen_answers(dpo_run):
    import math

    trainer, output = dpo_run
    losses = _losses(trainer)
    assert len(losses) == DPO_STEPS and losses[0] == pytest.approx(math.log(2), abs=1e-3)  # policy == reference
    final = trainer.evaluate(trainer.train_dataset)
    assert final["eval_loss"] < 0.8 * math.log(2), final
    assert final["eval_rewards/accuracies"] >= 0.9 and final["eval_rewards/margins"] > 0, final
    assert (output / "model.safetensors").exists()


def test_dpo_scores_the_assistant_answers(dpo_run):
    """What DPO compares is each answer and its end of turn, after the prompt rendered with the generation prompt."""
    trainer, _ = dpo_run
    tokenizer = trainer.processing_class
    rows = trainer.train_dataset
    assert len(rows) == 16
    for pair, row in zip(preference_pairs(), rows, strict=True):
        assert tokenizer.decode(row["prompt_ids"]) == f"user: {pair['prompt'][0]['content']}\nassistant:\n"
        for side in ("chosen", "rejected"):
            assert tokenizer.decode(row[f"{side}_ids"]) == pair[side][0]["content"] + tokenizer.eos_token + "\n"


def test_sft_asks_for_a_marked_template_when_the_model_has_none(tiny_model, sft_data, tmp_path):
    # the tiny model's own template has no {% generation %} markers and is no family TRL has a training template for
    with pytest.raises(ValueError, match="--chat-template"):
        _load("sft_trl").build_trainer([sft_data], str(tiny_model), tmp_path, max_steps=1)


def test_unknown_flags_go_to_the_trl_config(tiny_model, sft_data, tmp_path):
    # main() hands flags it does not know to SFTConfig, which refuses one that is no field of it
    with pytest.raises(ValueError, match="--no_such_option"):
        _load("sft_trl").main(["--data", str(sft_data), "--model", str(tiny_model), "--output", str(tmp_path),
                               "--no_such_option", "1"])


def test_an_empty_set_is_a_clear_error_before_any_training(tmp_path):
    import pyarrow.parquet as pq

    from corpusmill.schemas.tables import PAIRS_SCHEMA, SFT_SET_SCHEMA

    (tmp_path / "sft").mkdir()
    pq.write_table(SFT_SET_SCHEMA.empty_table(), tmp_path / "sft" / "part-00000-of-00001.parquet")
    with pytest.raises(ValueError, match="the set is empty"):
        _load("sft_trl").read_rows([tmp_path / "sft"], ["messages"])
    pq.write_table(PAIRS_SCHEMA.empty_table(), tmp_path / "pairs.parquet")
    with pytest.raises(ValueError, match="the set is empty"):
        _load("dpo_trl").read_rows([tmp_path / "pairs.parquet"], ["prompt", "chosen", "rejected"])
