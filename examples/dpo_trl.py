"""DPO on preference pairs with TRL's DPOTrainer, in TRL's conversational preference format.

Each row of the Parquet or JSONL files given (a folder: its `*.parquet` and `*.jsonl` files) has `prompt` (a list
of messages: the system/user turns), `chosen` and `rejected` (each a list with one assistant message); other
columns (`rejected_reason`, `problem_id`, ...) are ignored. The reference model is a frozen copy of `--model`
(usually the SFT model `examples/sft_trl.py` wrote).

    python examples/dpo_trl.py --data out/pairs --model out/sft-model --output out/dpo-model --max-steps 500
    accelerate launch --config_file examples/accelerate_multi_gpu.yaml examples/dpo_trl.py --data out/pairs \\
        --model out/sft-model --output out/dpo-model

Any other flag is a `DPOConfig` (so `TrainingArguments`) field and goes to it as it is: `--loss_type sigmoid`,
`--gradient_accumulation_steps 8`, `--precompute_ref_log_probs`, `--report_to wandb`, `--seed 1`, ... Needs
`pip install trl` (tested with trl 1.16, transformers 5.19).

This file stands alone (copy it anywhere), so it repeats the few lines of file reading `sft_trl.py` has.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TABLE_SUFFIXES = (".parquet", ".jsonl")
PAIR_COLUMNS = ["prompt", "chosen", "rejected"]


def data_files(paths: list[str | Path]) -> list[Path]:
    """The Parquet/JSONL files named, a folder standing for the table files directly in it (sorted: part-* order)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in TABLE_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"no {'/'.join(TABLE_SUFFIXES)} files in folder {path}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"--data {path}: no such file or folder")
    return files


def read_rows(paths: list[str | Path], columns: list[str]):
    """A `datasets.Dataset` of `columns` from Parquet or JSONL files; other columns are not read."""
    import datasets
    import pyarrow as pa
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    tables = []
    for file in data_files(paths):
        json_table = pa_json.read_json(file) if file.suffix == ".jsonl" else None
        names = (json_table.schema if json_table is not None else pq.read_schema(file)).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{file} has no column {', '.join(missing)}; it has {', '.join(names)}")
        tables.append(json_table.select(columns) if json_table is not None else pq.read_table(file, columns=columns))
    # `datasets` has no Arrow type for a non-nullable field, and Parquet and JSONL files differ in nullability.
    tables = [t.cast(pa.schema([f.with_nullable(True) for f in t.schema])) for t in tables]
    rows = pa.concat_tables(tables, promote_options="default")
    if rows.num_rows == 0:  # a trainer on nothing fails deep inside its data loader; say so here
        raise ValueError(f"no training rows in {', '.join(map(str, paths))}: the set is empty")
    return datasets.Dataset(rows)


def _cpu_defaults() -> list[str]:
    """TRL configs default to bf16 mixed precision, which transformers refuses without a GPU: fp32 on a CPU (and
    no pinned memory, which only warns there)."""
    import torch

    return [] if torch.cuda.is_available() else ["--bf16", "False", "--dataloader_pin_memory", "False"]


def build_trainer(data: list[str | Path], model: str, output: str | Path, *, max_steps: int = 500,
                  lr: float = 1e-6, batch_size: int = 8, max_length: int = 4096, beta: float = 0.1,
                  chat_template: str | None = None, extra_args: list[str] | None = None) -> Any:
    """A DPOTrainer for `model` on the pairs of `data`, configured and ready to `.train()`."""
    from transformers import AutoTokenizer, HfArgumentParser
    from trl import DPOConfig, DPOTrainer

    # Ours first, so that an explicit DPOConfig flag among `extra_args` (say --learning_rate) wins.
    argv = ["--output_dir", str(output), "--max_steps", str(max_steps), "--learning_rate", str(lr),
            "--per_device_train_batch_size", str(batch_size), "--beta", str(beta),
            "--max_length", str(max_length), *_cpu_defaults(), *(extra_args or [])]
    (config,) = HfArgumentParser(DPOConfig).parse_args_into_dataclasses(args=argv)

    tokenizer = AutoTokenizer.from_pretrained(model)
    if chat_template is not None:
        tokenizer.chat_template = chat_template  # saved with the model, so inference renders turns the same way
    if not tokenizer.chat_template:
        raise ValueError(f"{model} has no chat template; pass --chat-template FILE")
    # TRL renders prompt (with the generation prompt) and prompt + chosen/rejected with the chat template; the loss
    # is on the tokens after the prompt, i.e. the assistant's answer and its end-of-turn token.
    dataset = read_rows(data, PAIR_COLUMNS)
    return DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)


def train(data: list[str | Path], model: str, output: str | Path, **kwargs: Any) -> Any:
    """DPO-train `model` on `data` (see `build_trainer` for the options), save it to `output`; returns the trainer."""
    trainer = build_trainer(data, model, output, **kwargs)
    trainer.train()
    trainer.save_model(str(output))
    return trainer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     epilog="Other flags go to trl.DPOConfig as they are (e.g. "
                                            "--loss_type sigmoid, --precompute_ref_log_probs).")
    parser.add_argument("--data", required=True, nargs="+", help="pair files (Parquet, JSONL) or folders of them")
    parser.add_argument("--model", required=True, help="the policy to start from, also the frozen reference")
    parser.add_argument("--output", required=True, help="folder the trained model and tokenizer are saved to")
    parser.add_argument("--max-steps", type=int, default=500, help="optimizer steps (default: 500)")
    parser.add_argument("--lr", type=float, default=1e-6, help="peak learning rate (default: 1e-6, TRL's)")
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per device per step (default: 8)")
    parser.add_argument("--max-length", type=int, default=4096,
                        help="tokens per prompt + answer; longer ones are truncated (default: 4096)")
    parser.add_argument("--beta", type=float, default=0.1, help="DPO's KL weight beta (default: 0.1)")
    parser.add_argument("--chat-template", type=Path, help="a Jinja chat template file, for a model without one")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, train, save."""
    args, extra = _parser().parse_known_args(argv)
    template = args.chat_template.read_text(encoding="utf-8") if args.chat_template else None
    train(args.data, args.model, args.output, max_steps=args.max_steps, lr=args.lr, batch_size=args.batch_size,
          max_length=args.max_length, beta=args.beta, chat_template=template, extra_args=extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
