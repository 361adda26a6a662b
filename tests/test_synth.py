"""`corpusmill synth` end to end against a local OpenAI-compatible fake server."""

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import run_cli
from tests.test_openai_backend import CALLS, LEAK, server  # noqa: F401 - the fake server fixture


def _setup(tmp_path, url, model="solver", extra=""):
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"[answer={i + 2}] What is {i} + 2?",
                                            "answer": str(i + 2)}) + "\n" for i in range(3)) + "{broken\n")
    config = tmp_path / "synth.yaml"
    config.write_text(f"backend: {{base_url: '{url}', model: {model}, max_retries: 1, timeout_s: 5}}\n"
                      f"sampling: {{n: 4}}\nkeep_per_problem: 1\ncache_dir: {tmp_path / 'cache'}\n{extra}")
    return problems, config


def test_samples_are_verified_selected_and_exported(tmp_path, server):  # noqa: F811
    problems, config = _setup(tmp_path, server)
    out = tmp_path / "out"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["inputs"], report["kept"], report["removed"], report["errors"]) == (13, 3, 9, 1)
    assert report["removed_by_reason"] == {"synth/math_verify_v1/wrong_answer": 6,
                                           "synth/selection/over_keep_limit": 3}
    sft = pq.read_table(out / "documents").to_pylist()
    # problem ids are namespaced by their source (the problem file's name)
    assert sorted(r["id"] for r in sft) == ["problems/p0#0", "problems/p1#0", "problems/p2#0"]
    assert sorted(r["problem_id"] for r in sft) == ["problems/p0", "problems/p1", "problems/p2"]
    sample = sft[0]
    assert sample["template_version"] == "r1_v1" and sample["model"] == "solver" and sample["sample_index"] == 0
    assert sample["pass_rate"] == 0.5
    assert [m["role"] for m in sample["messages"]] == ["user", "assistant"]
    assert "<think>" in sample["messages"][0]["content"]  # the R1 template asked for it
    assert len((out / "sft" / "part-00000-of-00001.jsonl").read_text().splitlines()) == 3
    assert report["counters"]["synth/pass_rate.0.5"] == 3 and report["counters"]["synth/accepted.problems"] == 3
    assert "Problems by pass rate" in (out / "report.html").read_text()

    # a re-run and --reverify read the cache: the server is not asked again
    before = CALLS["solver"]
    again = tmp_path / "again"
    assert run_cli("synth", "--config", str(config), "--output", str(again), "--input", str(problems),
                   "--reverify") == 0
    assert CALLS["solver"] == before
    assert json.loads((again / "report.json").read_text())["kept"] == 3
    # --reverify on a finished output judges again instead of calling it complete
    (again / "report.json").unlink()
    assert run_cli("synth", "--config", str(config), "--output", str(again), "--input", str(problems),
                   "--reverify") == 0
    assert json.loads((again / "report.json").read_text())["kept"] == 3 and CALLS["solver"] == before


def test_pass_rate_window_and_failed_backend(tmp_path, server):  # noqa: F811
    problems, config = _setup(tmp_path, server, extra="min_pass_rate: 0.75\n")
    out = tmp_path / "window"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] == 0 and report["removed_by_reason"]["synth/selection/pass_rate_out_of_window"] == 6

    (tmp_path / "down").mkdir()
    problems, config = _setup(tmp_path / "down", server, model="down")
    out = tmp_path / "down-out"
    # a backend that keeps failing is our machinery failing: exit 3, and the build is not complete
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 3
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] and report["kept"] == 0 and report["retryable_errors"] == 3
    assert report["errors_by_class"] == {"read/MalformedProblem": 1, "synth/generate/GenerationFailed": 3}
    assert json.loads((out / "manifest.json").read_text())["status"] == "retry_needed"


def test_parquet_problems_with_a_field_mapping(tmp_path, server):  # noqa: F811
    import pyarrow as pa

    problems = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"uid": ["a", "b"], "ask": ["[answer=7] What is 3 + 4?", "[answer=9] What is 4 + 5?"],
                             "final": ["7", "9"]}), problems)
    config = tmp_path / "synth.yaml"
    config.write_text(f"backend: {{base_url: '{server}', model: solver, max_retries: 1}}\nsampling: {{n: 2}}\n"
                      "problem_fields: {kind: math, prompt: ask, answer: final, id: uid}\n"
                      f"cache_dir: {tmp_path / 'cache'}\n")
    out = tmp_path / "out"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    assert sorted(r["id"] for r in pq.read_table(out / "documents").to_pylist()) == ["mine/a#0", "mine/b#0"]


def test_contaminated_problems_are_dropped_before_generation(tmp_path, server):  # noqa: F811
    problems, config = _setup(tmp_path, server, extra=f"eval_files: [{tmp_path / 'problems.jsonl'}]\n")
    long = "A farmer has some apples and gives a few of them to every neighbour in the small village"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"[answer={i}] {long} ({i}).", "answer": str(i)})
                                + "\n" for i in range(3)))
    out = tmp_path / "decontaminated"
    before = CALLS["solver"]
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    removed = pq.read_table(out / "removed").to_pylist()
    assert sorted((r["id"], r["reason"]) for r in removed) == [
        ("problems/p0", "contaminated"), ("problems/p1", "contaminated"), ("problems/p2", "contaminated")]
    assert all(r["detail"].startswith("problems#") for r in removed)
    assert CALLS["solver"] == before  # nothing was generated for them


def test_problems_of_two_sources_never_share_an_id(tmp_path, server):  # noqa: F811
    """gsm8k/test.jsonl and math/test.jsonl both number their problems 0, 1, ...: each keeps its own
    samples, and a repeated id inside one file is an error row, not a merge."""
    for name, offset in (("gsm8k", 0), ("math", 10)):
        (tmp_path / name).mkdir()
        rows = [json.dumps({"problem": f"[answer={i + offset}] What is {i} + {offset}?", "answer": str(i + offset)})
                for i in range(2)]
        (tmp_path / name / "test.jsonl").write_text("\n".join(rows) + "\n")
    dupes = tmp_path / "dupes.jsonl"
    dupes.write_text("".join(json.dumps({"id": "same", "problem": f"[answer={a}] What is {a}?", "answer": str(a)})
                             + "\n" for a in (1, 2)))
    config = tmp_path / "synth.yaml"
    config.write_text(f"backend: {{base_url: '{server}', model: solver, max_retries: 1}}\nsampling: {{n: 2}}\n"
                      f"cache_dir: {tmp_path / 'cache'}\n")
    out = tmp_path / "out"
    args = ["synth", "--config", str(config), "--output", str(out), "--input", str(tmp_path / "gsm8k/test.jsonl"),
            "--input", str(tmp_path / "math/test.jsonl"), "--input", str(dupes)]
    assert run_cli(*args) == 0
    sft = pq.read_table(out / "documents").to_pylist()
    assert sorted(r["problem_id"] for r in sft) == ["dupes/same", "gsm8k/test/0", "gsm8k/test/1", "math/test/0",
                                                     "math/test/1"]
    answers = {r["problem_id"]: r["predicted"] for r in sft}
    assert answers["gsm8k/test/1"] == "1" and answers["math/test/1"] == "11"  # each its own generations
    errors = pq.read_table(out / "errors").to_pylist()
    assert [(e["error_class"], e["input_offset"] > 0) for e in errors] == [("DuplicateProblemId", True)]


def test_the_generation_cache_lives_on_any_beam_filesystem(tmp_path, server):  # noqa: F811
    """With the cache on an object store (here `memfs://`, an in-memory Beam FileSystem), a second run
    finds every sample there and asks the model nothing."""
    from tests import memfs

    problems, config = _setup(tmp_path, server)
    config.write_text(config.read_text().replace(f"cache_dir: {tmp_path / 'cache'}", "cache_dir: memfs://bucket/cache"))
    assert run_cli("synth", "--config", str(config), "--output", str(tmp_path / "one"), "--input", str(problems)) == 0
    cached = [p for p in memfs.FILES if p.startswith("memfs://bucket/cache/p-")]
    assert cached and all(p.endswith(".jsonl") for p in cached)
    before = CALLS["solver"]
    assert run_cli("synth", "--config", str(config), "--output", str(tmp_path / "two"), "--input", str(problems)) == 0
    assert CALLS["solver"] == before
    assert not Path("memfs:").exists()  # nothing went to a local folder named after the scheme
    assert json.loads((tmp_path / "two" / "report.json").read_text())["kept"] == 3


def test_answers_that_quote_a_benchmark_are_rejected(tmp_path, server):  # noqa: F811
    """The problems quote no benchmark, but the model recites one while thinking: every verified answer
    is removed as contaminated, counted per benchmark."""
    benchmark = tmp_path / "bench.jsonl"
    benchmark.write_text(json.dumps({"question": f"How many animals? {LEAK}.", "answer": "#### 29"}) + "\n")
    problems, config = _setup(tmp_path, server, model="leaky", extra=f"eval_files: [{benchmark}]\n")
    out = tmp_path / "out"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] == 0 and report["removed_by_reason"]["synth/decontamination_v1.answers/contaminated"] == 12
    assert report["removed_by_tag"] == {"decontamination_v1.answers": {"benchmark.bench": 12}}


def test_preference_pairs_put_verified_against_wrong_answers_not_against_malformed_ones(tmp_path, server):  # noqa: F811
    problems, config = _setup(tmp_path, server, model="sloppy",
                              extra="sampling: {n: 8}\npreference_pairs: {max_per_problem: 4}\n")
    config.write_text(config.read_text().replace("sampling: {n: 4}\n", ""))
    out = tmp_path / "out"
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 0
    pairs = pq.read_table(out / "pairs").to_pylist()
    # per problem: right on 0 and 4, truncated on 1 and 5, wrong on 2 and 6, malformed on 3 and 7
    assert sorted(p["id"] for p in pairs) == [f"problems/p{i}#{c}-{r}" for i in range(3) for c, r in ((0, 2), (4, 6))]
    pair = next(p for p in pairs if p["id"] == "problems/p1#0-2")
    assert pair["rejected_reason"] == "wrong_answer" and pair["rejected_verifier"] == "math_verify_v1"
    assert pair["prompt"][-1]["role"] == "user" and "What is 1 + 2?" in pair["prompt"][-1]["content"]
    assert pair["chosen"] == [{"role": "assistant", "content": "<think>thinking</think>\nThe answer is \\boxed{3}."}]
    assert pair["rejected"][0]["content"].endswith("\\boxed{31}.")
    assert pair["model"] == "sloppy" and pair["template_version"] == "r1_v1"

    # asked for, samples rejected for their form may stand on the rejected side too
    config.write_text(config.read_text().replace("{max_per_problem: 4}",
                                                 "{max_per_problem: 8, include_format_failures: true}"))
    again = tmp_path / "again"
    assert run_cli("synth", "--config", str(config), "--output", str(again), "--input", str(problems)) == 0
    reasons = {p["rejected_reason"] for p in pq.read_table(again / "pairs").to_pylist()}
    assert "truncated" in reasons and "wrong_answer" in reasons and len(reasons) == 3


def test_open_requests_are_judged_by_a_model_and_a_malformed_judgment_is_never_an_acceptance(tmp_path, server):  # noqa: F811
    problems = tmp_path / "requests.jsonl"
    problems.write_text("".join(json.dumps({"id": name, "request": f"Write a {name} paragraph about rivers."}) + "\n"
                                for name in ("good", "bad", "flaky", "prose")))
    config = tmp_path / "synth.yaml"
    backend = f"{{base_url: '{server}', max_retries: 1, timeout_s: 5"
    config.write_text(f"backend: {backend}, model: writer}}\ntemplate: chat_v1\nsampling: {{n: 2}}\n"
                      "problem_fields: {kind: open, prompt: request, id: id}\n"
                      f"judge: {{backend: {backend}, model: judge}}, min_score: 7, attempts: 2}}\n"
                      f"cache_dir: {tmp_path / 'cache'}\n")
    out = tmp_path / "out"
    # the prose judgments are a failure of the judge, not a verdict: exit 3, judged again by the next run
    assert run_cli("synth", "--config", str(config), "--output", str(out), "--input", str(problems)) == 3
    sft = {r["problem_id"]: r for r in pq.read_table(out / "documents").to_pylist()}
    assert sorted(sft) == ["requests/flaky", "requests/good"]
    assert sft["requests/good"]["verifier"] == "llm_judge_v1" and sft["requests/good"]["predicted"] == "score=9"
    assert sft["requests/flaky"]["predicted"] == "score=9"  # the second, sampled ask gave a parseable score
    assert (sft["requests/good"]["judge_model"], sft["requests/good"]["judge_template"]) == ("judge", "judge_v1")
    removed = pq.read_table(out / "removed").to_pylist()
    assert {(r["id"], r["reason"]) for r in removed if r["filter"] == "llm_judge_v1"} == {
        ("requests/bad#0", "below_min_score"), ("requests/bad#1", "below_min_score")}
    errors = pq.read_table(out / "errors").to_pylist()
    assert sorted(e["record_id"] for e in errors) == ["requests/prose#0", "requests/prose#1"]
    assert all(e["error_class"] == "VerifierError" and "judge_malformed" in e["message"] for e in errors)
    assert json.loads((out / "report.json").read_text())["accounting_ok"]


def test_an_open_problem_set_without_a_judge_is_refused_before_launch(tmp_path, server):  # noqa: F811
    config = tmp_path / "synth.yaml"
    config.write_text(f"backend: {{base_url: '{server}', model: writer}}\nproblem_fields: {{kind: open, prompt: q}}\n")
    assert run_cli("synth", "--config", str(config), "--output", str(tmp_path / "out"), "--input",
                   str(tmp_path / "x.jsonl")) == 2


def test_a_judgment_counts_only_as_one_score_line_at_the_end_inside_the_scale():
    from corpusmill.synth.verifiers.llm_judge import parse_score

    assert parse_score("Careful and correct.\nSCORE: 8", 1, 10) == 8
    assert parse_score("**SCORE: 10**", 1, 10) == 10
    for judgment in ("I would give it an 8.", "SCORE: 8\nbut on reflection it is wrong", "SCORE: 11",
                     "SCORE: 0", "SCORE: 7.5", "SCORE: 3\nSCORE: 9", "", "score: 8"):
        assert parse_score(judgment, 1, 10) is None, judgment


def test_an_in_process_engine_gets_one_local_worker_unless_the_user_says_otherwise():
    from corpusmill.pipelines.options import pipeline_options
    from corpusmill.pipelines.stages.synth import local_workers
    from corpusmill.schemas.config import SynthConfig

    vllm = SynthConfig.model_validate({"input": {"paths": ["p.jsonl"]}, "backend": {"kind": "vllm", "model": "m"}})
    served = SynthConfig.model_validate({"input": {"paths": ["p.jsonl"]}, "backend": {"model": "m"}})
    assert local_workers(vllm) == 1 and local_workers(served) is None
    workers = pipeline_options([], local_workers(vllm)).get_all_options()["direct_num_workers"]
    assert workers == 1  # one engine per machine: two would fight for its GPU (or cores)
    assert pipeline_options(["--direct_num_workers=3"], 1).get_all_options()["direct_num_workers"] == 3


def test_generation_batches_have_the_configured_size():
    from corpusmill.pipelines.transforms.generation import SamplingModelHandler
    from corpusmill.schemas.config import SynthConfig

    config = SynthConfig.model_validate({"input": {"paths": ["p.jsonl"]},
                                         "backend": {"model": "m", "batch_size": 200}})
    # fixed, not adaptive: Beam's adaptive batching shrinks to its minimum when a call takes minutes
    assert SamplingModelHandler(config).batch_elements_kwargs() == {"min_batch_size": 200, "max_batch_size": 200}
