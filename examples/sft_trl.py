"""Fine-tune a causal LM on corpusmill's SFT Parquet (`corpusmill synth` / `verify` output) with TRL's SFTTrainer.

Reads the `messages` column (a list of {role, content}, the last turn the assistant's) of every Parquet (or JSONL)
file given (a folder: its `*.parquet` and `*.jsonl` files); every other column is ignored. The loss is on the
assistant turns only, with TRL's `assistant_only_loss` (`build_trainer` says why that mechanism).

    python examples/sft_trl.py --data out/sft --model Qwen/Qwen3-0.6B --output out/sft-model --max-steps 1000
    accelerate launch --config_file examples/accelerate_multi_gpu.yaml examples/sft_trl.py --data out/sft \\
        --model Qwen/Qwen3-8B --output out/sft-model

Any other flag is an `SFTConfig` (so `TrainingArguments`) field and goes to it as it is:
`--gradient_accumulation_steps 8`, `--num_train_epochs 3`, `--report_to wandb`, `--seed 1`, ... Needs
`pip install trl` (tested with trl 1.16, transformers 5.19); `python examples/sft_trl.py --help` lists our flags.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TABLE_SUFFIXES = (".parquet", ".jsonl")


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


def build_trainer(data: list[str | Path], model: str, output: str | Path, *, max_steps: int = 1000,
                  lr: float = 2e-5, batch_size: int = 8, max_length: int = 4096,
                  chat_template: str | None = None, extra_args: list[str] | None = None) -> Any:
    """An SFTTrainer for `model` on the `messages` of `data`, configured and ready to `.train()`."""
    from transformers import AutoTokenizer, HfArgumentParser
    from trl import SFTConfig, SFTTrainer
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    # Ours first, so that an explicit SFTConfig flag among `extra_args` (say --learning_rate) wins.
    argv = ["--output_dir", str(output), "--max_steps", str(max_steps), "--learning_rate", str(lr),
            "--per_device_train_batch_size", str(batch_size), "--max_length", str(max_length),
            *_cpu_defaults(), *(extra_args or [])]
    (config,) = HfArgumentParser(SFTConfig).parse_args_into_dataclasses(args=argv)
    # Why assistant_only_loss rather than converting rows to prompt/completion for completion_only_loss: corpusmill
    # writes conversational language-modeling rows (`messages`), which is the format TRL documents assistant_only_loss
    # for; it masks every assistant turn of a multi-turn row (prompt/completion would train the last one only) and
    # keeps the end-of-turn token in the loss (TRL warns when a template leaves it out), so the model learns to
    # stop. It needs a chat template with {% generation %} markers: TRL swaps in its own marked training template for
    # the families it ships one for (trl/chat_templates/*_training.jinja: Qwen 2.5 and 3, Gemma, Phi-3, DeepSeek, ...);
    # for any other model pass --chat-template.
    config.assistant_only_loss = True
    config.completion_only_loss = False

    tokenizer = AutoTokenizer.from_pretrained(model)
    if chat_template is not None:
        tokenizer.chat_template = chat_template  # saved with the model, so inference renders turns the same way
    if not tokenizer.chat_template:
        raise ValueError(f"{model} has no chat template; pass --chat-template FILE (a Jinja template with "
                         "{% generation %} ... {% endgeneration %} around the assistant's content)")
    if not has_generation_markers(tokenizer.chat_template):
        try:
            get_training_chat_template(tokenizer)
        except ValueError as err:
            raise ValueError(f"the chat template of {model} has no {{% generation %}} markers and TRL has no training "
                             "template for it; pass --chat-template FILE, a copy of it with {% generation %} ... "
                             "{% endgeneration %} around each assistant message's content and end-of-turn "
                             "token") from err

    dataset = read_rows(data, ["messages"])
    return SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)


def train(data: list[str | Path], model: str, output: str | Path, **kwargs: Any) -> Any:
    """Fine-tune `model` on `data` (see `build_trainer` for the options), save it to `output`; returns the trainer."""
    trainer = build_trainer(data, model, output, **kwargs)
    trainer.train()
    trainer.save_model(str(output))
    return trainer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     epilog="Other flags go to trl.SFTConfig as they are (e.g. "
                                            "--gradient_accumulation_steps 8, --num_train_epochs 2).")
    parser.add_argument("--data", required=True, nargs="+", help="SFT Parquet files, or folders of part-*.parquet")
    parser.add_argument("--model", required=True, help="a model folder or Hub id (AutoModelForCausalLM)")
    parser.add_argument("--output", required=True, help="folder the fine-tuned model and tokenizer are saved to")
    parser.add_argument("--max-steps", type=int, default=1000, help="optimizer steps (default: 1000)")
    parser.add_argument("--lr", type=float, default=2e-5, help="peak learning rate (default: 2e-5, TRL's)")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences per device per step (default: 8)")
    parser.add_argument("--max-length", type=int, default=4096,
                        help="tokens per sequence; longer ones are truncated (default: 4096)")
    parser.add_argument("--chat-template", type=Path,
                        help="a Jinja chat template file with {%% generation %%} markers, for a model whose own "
                             "template has none and that TRL has no training template for")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, train, save."""
    args, extra = _parser().parse_known_args(argv)
    template = args.chat_template.read_text(encoding="utf-8") if args.chat_template else None
    train(args.data, args.model, args.output, max_steps=args.max_steps, lr=args.lr, batch_size=args.batch_size,
          max_length=args.max_length, chat_template=template, extra_args=extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
