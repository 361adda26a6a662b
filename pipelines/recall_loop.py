"""`corpusmill recall`: DeepSeekMath's loop for finding a domain in a crawl (Shao et al. 2024, sec. 2.1).

Each iteration: seed pages (label) against pages drawn at random from the pool (other) train a
fastText classifier; the pool is scored (stages/recall_score.py, a build of its own under
iter-N/scored/); per web host, the share of its pages recalled is counted; hosts above
`host_share` go to iter-N/annotations.jsonl for review, and the recalled pages of newly
annotated hosts join the seeds of the next iteration. Every iteration is resumable: a finished
classifier (same training examples) and a finished scoring build are kept, not redone.
"""

from __future__ import annotations

import hashlib
import json
import sys

import apache_beam as beam
import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.core.text_classifier import CARD
from corpusmill.pipelines.classifier_training import train_and_save
from corpusmill.pipelines.io import manifest as manifests
from corpusmill.pipelines.io.inputs import carried_names
from corpusmill.pipelines.io.labelled_examples import read_examples
from corpusmill.pipelines.launch import EXIT_RETRY, check_output_folder, config_inputs, quiet_local_workers, run_stage
from corpusmill.pipelines.options import pipeline_options
from corpusmill.pipelines.stages import recall_score
from corpusmill.pipelines.transforms.read import ReadRecords
from corpusmill.pipelines.transforms.recall import DrawFn, host_of
from corpusmill.pipelines.transforms.text import ExtractText
from corpusmill.pipelines.transforms.write import OutputSpec, WriteTable
from corpusmill.schemas.config import PoolScoreConfig, RecallConfig
from corpusmill.schemas.tables import TableSchemas

OTHER = "other"


def run_recall(config: RecallConfig, out: str, beam_args: list[str]) -> int:
    """Run (or finish) every iteration; returns the exit code."""
    check_output_folder(out)
    formats = {p: fmt for p, (fmt, _) in config_inputs(config, None).items()}
    seeds, seed_files = read_examples(config.seeds)
    positives = [(config.label, text) for _, text in seeds]
    drawn = _draw_negatives(config, formats, FileSystems.join(out, "negatives"), beam_args)
    recalled_ids: set[str] = set()
    annotated: dict[str, int] = {}
    iterations = []
    for i in range(1, config.iterations + 1):
        folder = FileSystems.join(out, f"iter-{i}")
        # a drawn page the last classifier recalled is likely of the domain: not a negative any more
        known = {text for _, text in positives}
        examples = positives + [(OTHER, t) for i, t in drawn if t not in known and i not in recalled_ids]
        card = _classifier(examples, seed_files, config, FileSystems.join(folder, "model"))
        scored = FileSystems.join(folder, "scored")
        score_config = PoolScoreConfig(input=config.pool, model=FileSystems.join(folder, "model"), label=config.label,
                                       min_score=config.min_score, output=config.output)
        code = run_stage(recall_score.spec(), score_config, None, scored, beam_args)
        if code not in (0, EXIT_RETRY):
            return code
        hosts = _read_jsonl(FileSystems.join(scored, recall_score.HOSTS))
        chosen = [h for h in hosts if h["share"] >= config.host_share and h["pages"] >= config.min_host_pages]
        new = sorted(h["host"] for h in chosen if h["host"] not in annotated)
        annotated.update((host, i) for host in new)
        _write_jsonl(FileSystems.join(folder, "annotations.jsonl"),
                     [{**h, "new": h["host"] in new, "iteration": annotated[h["host"]]} for h in chosen])
        recalled_ids = set(_column(FileSystems.join(scored, "documents"), ["id"])["id"])
        recalled = _recalled_pages(scored, set(new))
        positives += [(config.label, text) for text in recalled]
        report = json.loads(_read(FileSystems.join(scored, "report.json")))
        iterations.append({
            "iteration": i, "seeds": len(examples) - len([e for e in examples if e[0] == OTHER]),
            "negatives": len([e for e in examples if e[0] == OTHER]), "recalled_pages": report["kept"],
            "recalled_words": report["counters"].get("recall/recalled_words", 0), "annotated_hosts": len(chosen),
            "new_hosts": new, "new_seed_pages": len(recalled), "heldout_scores": card["heldout_scores"]})
        _print_iteration(iterations[-1])
    summary = {"stage": "recall", "label": config.label, "iterations": iterations, "annotated_hosts": annotated,
               "config_hash": config.config_hash()}
    _write(FileSystems.join(out, "report.json"), json.dumps(summary, indent=2, sort_keys=True))
    _write(FileSystems.join(out, "report.html"), _html(summary))
    manifests.write_manifest(out, {**summary, "status": "complete", "packages": manifests.package_versions()})
    return 0


def _classifier(examples: list[tuple[str, str]], seed_files: list[dict], config: RecallConfig, folder: str) -> dict:
    """The iteration's classifier: kept when its card says it was trained on exactly these examples."""
    digest = hashlib.sha256(json.dumps([config.classifier.model_dump(), sorted(examples)]).encode()).hexdigest()
    card_path = FileSystems.join(folder, CARD)
    if FileSystems.exists(card_path):
        card = json.loads(_read(card_path))
        if card.get("config_hash") == digest:
            return card
        FileSystems.delete([folder])
    return train_and_save(examples, seed_files, config.classifier, digest, folder)


def _draw_negatives(config: RecallConfig, formats: dict[str, str], folder: str, beam_args: list[str]
                    ) -> list[tuple[str, str]]:
    """(id, text) of pool pages drawn by a hash of their id (a Beam pipeline of its own; kept once complete)."""
    done = FileSystems.join(folder, "manifest.json")
    key = json.dumps([sorted(formats), config.negative_rate, config.seed, config.pool.model_dump()])
    if not (FileSystems.exists(done) and json.loads(_read(done)).get("key") == key):
        schemas = TableSchemas("documents", carried_names(formats, "signals"), carried_names(formats, "domain"))
        output = OutputSpec(folder, 1, config.output.compression, schemas)
        pipeline = beam.Pipeline(options=pipeline_options(beam_args))
        read = (pipeline | "ListInputs" >> beam.Create(sorted(formats))
                | "ReadRecords" >> ReadRecords(formats, config.pool))
        _ = (read.records | "ToDocuments" >> ExtractText(HtmlExtractor())).docs \
            | "Draw" >> beam.ParDo(DrawFn(config.negative_rate, config.seed)) \
            | "WriteNegatives" >> WriteTable(output, "documents")
        with quiet_local_workers(beam_args):
            pipeline.run().wait_until_finish()
        _write(done, json.dumps({"key": key}))
    table = _column(FileSystems.join(folder, "documents"), ["id", "text"])
    pages = list(zip(table["id"], table["text"], strict=True))
    # at most max_negatives, chosen by hash like the draw itself
    return sorted(pages, key=lambda p: hashlib.blake2b(f"{config.seed}\x00{p[0]}".encode()).digest())[
        : config.max_negatives]


def _recalled_pages(scored: str, hosts: set[str]) -> list[str]:
    if not hosts:
        return []
    table = _column(FileSystems.join(scored, "documents"), ["url", "text"])
    return [t for u, t in zip(table["url"], table["text"], strict=True) if host_of(u) in hosts]


def _column(folder: str, columns: list[str]) -> dict[str, list]:
    table = ds.dataset(folder, format="parquet").to_table(columns=columns)
    return {c: table[c].to_pylist() for c in columns}


def _read(path: str) -> str:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return f.read().decode("utf-8")


def _write(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


def _read_jsonl(path: str) -> list[dict]:
    return [json.loads(line) for line in _read(path).splitlines() if line.strip()] if FileSystems.exists(path) else []


def _write_jsonl(path: str, rows: list[dict]) -> None:
    _write(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


def _print_iteration(it: dict) -> None:
    scores = ", ".join(f"{k} f1 {v['f1']:.3f}" for k, v in it["heldout_scores"].items())
    sys.stdout.write(f"corpusmill recall: iteration {it['iteration']}: {it['seeds']} seed pages, {it['negatives']} "
                     f"negatives ({scores}); recalled {it['recalled_pages']} pages; {it['annotated_hosts']} hosts "
                     f"above the share, new: {', '.join(it['new_hosts']) or 'none'}\n")


def _html(summary: dict) -> str:
    import html

    rows = "".join(
        f"<tr><td>{it['iteration']}</td><td>{it['seeds']}</td><td>{it['negatives']}</td><td>{it['recalled_pages']}</td>"
        f"<td>{it['recalled_words']}</td><td>{html.escape(', '.join(it['new_hosts']))}</td>"
        f"<td>{html.escape(json.dumps(it['heldout_scores']))}</td></tr>" for it in summary["iterations"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>corpusmill recall</title></head><body>"
            f"<h1>corpusmill recall: {html.escape(summary['label'])}</h1><table border='1'><tr><th>iteration</th>"
            f"<th>seed pages</th><th>negatives</th><th>recalled pages</th><th>recalled words</th><th>new hosts</th>"
            f"<th>classifier, held out</th></tr>{rows}</table></body></html>\n")

