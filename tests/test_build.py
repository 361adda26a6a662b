"""`corpusmill build`: nightly builds under one root, run through the installed command on its default
runner: new inputs only, dedup against earlier builds, `latest`, resume after SIGKILL, locks, faults."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import DATA, run_cli

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("corpusmill"))
CONFIG = "configs/nightly.yaml"
WEB = DATA / "web"
NIGHT_1 = [WEB / "cc-main-2024-22_whirlwind.warc.gz", WEB / "dolma_wget_sample-0000.warc.gz"]
# The second night lists a file of the first again (skipped), a new crawl file, and a re-crawl of some
# pages of the first night.
NIGHT_2 = [WEB / "dolma_wget_sample-0000.warc.gz", WEB / "dolma_wget_sample-0001.warc.gz",
           DATA / "nightly" / "dolma_wget_sample-0000_recrawl.warc.gz"]


def inputs(files: list[Path]) -> list[str]:
    return [arg for f in files for arg in ("--input", str(f))]


def build(root: Path, files: list[Path], **kwargs) -> subprocess.CompletedProcess:
    """`corpusmill build` as a user runs it, from the repository (the config's relative paths)."""
    return subprocess.run([CLI, "build", "--config", CONFIG, "--output", str(root), *inputs(files)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, **kwargs)


def builds_of(root: Path) -> list[Path]:
    return sorted(p for p in (root / "builds").iterdir() if p.is_dir())


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def rows(folder: Path, columns: list[str] | None = None) -> list[dict]:
    """Every row of a table's shards, in shard order."""
    out: list[dict] = []
    for shard in sorted(folder.glob("part-*.parquet")):
        out += pq.read_table(shard, columns=columns).to_pylist()
    return out


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (links by their target), to show a folder was not touched."""
    return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("nightly") / "root"
    first = build(root, NIGHT_1)
    second = build(root, NIGHT_2)
    again = build(root, NIGHT_2)
    return {"root": root, "runs": (first, second, again)}


def test_second_night_reads_only_new_files_and_removes_duplicates_of_the_first(two_nights):
    root = two_nights["root"]
    first, second, again = two_nights["runs"]
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    night_1, night_2 = builds_of(root)
    assert manifest(night_1)["status"] == manifest(night_2)["status"] == "complete"
    assert set(manifest(night_1)["inputs"]) == {str(f) for f in NIGHT_1}
    assert set(manifest(night_2)["inputs"]) == {str(f) for f in NIGHT_2[1:]}  # night 1's file is not read again
    assert manifest(night_2)["earlier_builds"] == [night_1.name]
    assert "1 listed files were processed before" in second.stdout

    # The re-crawled pages are removed as duplicates of night 1's documents, naming them as survivors.
    first_ids = {r["id"] for r in rows(night_1 / "curate" / "documents", ["id"])}
    against_first = [r for r in rows(night_2 / "curate" / "removed")
                     if r["filter"] == "minhash_dedup_v1" and r["scores"]["dedup.earlier_build"] == 1.0]
    assert len(against_first) >= 3
    assert {r["survivor_id"] for r in against_first} <= first_ids
    report = json.loads((night_2 / "report.json").read_text())
    assert report["summary"]["removed_against_earlier_builds"] == len(against_first)
    assert report["previous"]["build_id"] == night_1.name
    assert report["accounting_ok"]

    # latest is the second build; its mixture draws on the curated documents of both nights.
    assert os.readlink(root / "latest") == f"builds/{night_2.name}"
    assert json.loads((root / "latest.json").read_text())["build_id"] == night_2.name
    mixed = {r["id"] for r in rows(root / "latest" / "mix" / "documents", ["id"])}
    second_ids = {r["id"] for r in rows(night_2 / "curate" / "documents", ["id"])}
    assert mixed & first_ids and mixed & second_ids
    assert (root / "latest" / "mix" / "tokens").is_dir()


def test_a_night_without_new_input_says_so_and_exits_0(two_nights):
    again = two_nights["runs"][2]
    assert again.returncode == 0, again.stderr[-3000:]
    assert "no new input" in again.stdout
    assert len(builds_of(two_nights["root"])) == 2


def test_report_command_regenerates_the_page(two_nights):
    night_2 = builds_of(two_nights["root"])[-1]
    page = (night_2 / "report.html").read_text()
    (night_2 / "report.html").unlink()
    assert run_cli("report", str(two_nights["root"] / "latest")) == 0
    assert (night_2 / "report.html").read_text() == page
    for section in ("change", "funnel", "mixture", "languages", "hosts", "domains", "lengths", "clusters"):
        assert f'<section id="{section}">' in page
    assert "<script" not in page and "http://" not in page.split("</style>")[0]  # nothing to fetch


def test_report_renders_with_its_plots_in_headless_chromium(two_nights, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        from tests.conftest import skip_or_fail

        skip_or_fail("chromium", "Debian's chromium is not installed (make test installs it as root)")
    from PIL import Image

    page = two_nights["root"] / "latest" / "report.html"
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1000,4000"]
    subprocess.run([chromium, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                   check=True)
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    print(f"screenshot: {shot}")
    assert dom.count('class="plot"') >= 7 and "corpusmill build" in dom
    # Every plot colour is painted: the bars were laid out and drawn, not only present in the markup.
    colours = {c for _, c in Image.open(shot).convert("RGB").getcolors(1 << 24)}
    from corpusmill.pipelines.nightly.report_html import COLORS

    drawn = {name for name, hex_ in COLORS.items() if tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) in colours}
    assert {"removed", "lang", "host", "length", "cluster", "before", "now"} <= drawn


def _kill_when(root: Path, ready, others: list) -> tuple[str, str]:
    """Start a build of NIGHT_1 and SIGKILL it (with its worker processes) once `ready(root)` holds;
    ('killed' or 'finished' when it ended first, what it printed)."""
    proc = subprocess.Popen([CLI, "build", "--config", CONFIG, "--output", str(root), *inputs(NIGHT_1)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if ready(root):
            for check in others:
                check(root)
            os.killpg(proc.pid, signal.SIGKILL)
            return "killed", proc.communicate()[0]
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return "finished", out


def _stage_status(root: Path, stage: str) -> str | None:
    found = list(root.glob(f"builds/*/{stage}/manifest.json"))
    try:
        return json.loads(found[0].read_text())["status"] if found else None
    except (ValueError, OSError):
        return None  # being renamed into place


def _without_paths(table: list[dict], build_dir: Path) -> list[dict]:
    return [{**row, **({"input_file": row["input_file"].replace(str(build_dir), "BUILD")} if row.get("input_file")
                       else {})} for row in table]


def _second_build_is_refused(root: Path) -> None:
    refused = build(root, NIGHT_1)
    assert refused.returncode == 4
    assert "another build holds" in refused.stderr


def test_a_build_killed_at_any_point_finishes_with_exactly_the_documents_of_a_clean_run(tmp_path):
    clean = tmp_path / "clean"
    done = build(clean, NIGHT_1)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = tmp_path / "killed"
    points = [  # each run resumes the last one and is killed a little further on
        ("curate running", lambda r: _stage_status(r, "curate") == "running", [_second_build_is_refused]),
        ("curate writing shards", lambda r: any(r.glob("builds/*/curate/documents/*")), []),
        ("mix running", lambda r: _stage_status(r, "mix") == "running", []),
        ("mix complete", lambda r: _stage_status(r, "mix") == "complete", []),
        ("report written", lambda r: any(r.glob("builds/*/report.html")), []),
    ]
    runs = [(name, *_kill_when(killed, ready, others)) for name, ready, others in points]
    outcomes = [(name, outcome) for name, outcome, _ in runs]
    assert [o for _, o in outcomes].count("killed") >= 4, outcomes
    last = build(killed, NIGHT_1)
    assert last.returncode == 0, last.stderr[-3000:]
    resumed = [printed for _, _, printed in runs[1:]] + [last.stdout]
    assert any("removed a stale lock" in p for p in resumed)  # the killed build's lock
    assert any("resuming build" in p for p in resumed)

    [a], [b] = builds_of(clean), builds_of(killed)
    for table in ("curate/documents", "curate/removed", "curate/errors", "curate/index", "mix/documents",
                  "mix/removed"):
        # none lost, none twice, same order; only provenance differs (paths under the two roots)
        assert _without_paths(rows(b / table), b) == _without_paths(rows(a / table), a), table
    ids = [r["id"] for r in rows(b / "curate" / "documents", ["id"])]
    assert len(ids) == len(set(ids)) > 0
    assert (b / "mix" / "tokens").exists() and sorted(p.name for p in (b / "mix" / "tokens").iterdir()) == \
        sorted(p.name for p in (a / "mix" / "tokens").iterdir())
    assert os.readlink(killed / "latest") == f"builds/{b.name}"
    assert not (killed / "build.lock").exists()
    print(f"kill points: {outcomes}")


def test_a_lock_held_by_a_live_build_is_refused_and_a_stale_one_is_taken(tmp_path):
    from corpusmill.pipelines.errors import UsageError
    from corpusmill.pipelines.nightly.lock import BuildLock

    root = tmp_path / "root"
    root.mkdir()
    with BuildLock(str(root)):
        with pytest.raises(UsageError, match="another build holds"):
            BuildLock(str(root)).__enter__()
    assert not (root / "build.lock").exists()

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (root / "build.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": gone.pid,
                                                  "started": "2026-01-01T00:00:00Z", "token": "x"}))
    with BuildLock(str(root)) as lock:
        assert "stale lock" in lock.note
    # A lock from another machine is live while its heartbeat is recent, stale after STALE_AFTER_S.
    from corpusmill.pipelines.nightly.lock import STALE_AFTER_S

    (root / "build.lock").write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "y",
                                                  "heartbeat": time.time() - 60}))
    with pytest.raises(UsageError, match="delete the lock file"):
        BuildLock(str(root)).__enter__()
    (root / "build.lock").write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "y",
                                                  "heartbeat": time.time() - STALE_AFTER_S - 1}))
    with BuildLock(str(root)) as lock:
        assert "on elsewhere" in lock.note
    assert not (root / "build.lock").exists()


def test_the_lock_heartbeat_is_renewed_while_a_build_runs(tmp_path, monkeypatch):
    from corpusmill.pipelines.nightly import lock as locks

    monkeypatch.setattr(locks, "HEARTBEAT_S", 0.05)
    with locks.BuildLock(str(tmp_path)) as held:
        first = json.loads((tmp_path / "build.lock").read_text())["heartbeat"]
        time.sleep(0.3)
        renewed = json.loads((tmp_path / "build.lock").read_text())
        assert renewed["heartbeat"] > first and renewed["token"] == held.token
    assert not (tmp_path / "build.lock").exists()


def test_sigterm_releases_the_lock(tmp_path):
    proc = subprocess.Popen([CLI, "build", "--config", CONFIG, "--output", str(tmp_path / "root"),
                             *inputs(NIGHT_1)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "root" / "build.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1)
    proc.terminate()
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not (tmp_path / "root" / "build.lock").exists()


def test_a_missing_input_or_an_unwritable_root_is_a_clear_error_and_touches_nothing(two_nights, tmp_path):
    root = two_nights["root"]
    before = tree_digest(root)
    missing = build(root, [tmp_path / "no-such-crawl"])
    assert missing.returncode == 2
    assert "input not found" in missing.stderr and "no-such-crawl" in missing.stderr
    assert tree_digest(root) == before

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    unwritable = build(blocker / "root", NIGHT_1)
    assert unwritable.returncode == 2
    assert "cannot write to the output root" in unwritable.stderr


def _small_file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_full_disk_fails_the_build_clearly_and_the_next_run_finishes_it(two_nights, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(two_nights["root"], root, symlinks=True)
    before = tree_digest(root)
    night_3 = [WEB / "cc-main-2020-34_sample_resiliparse.warc.gz"]
    full = build(root, night_3, preexec_fn=_small_file_limit)
    assert full.returncode == 1, full.stdout[-2000:] + full.stderr[-2000:]
    assert "File too large" in full.stderr and "failed in stage" in full.stderr
    assert "untouched" in full.stderr
    earlier = {k: v for k, v in tree_digest(root).items() if k in before}
    assert earlier == before  # earlier builds, latest and latest.json unchanged
    failed = builds_of(root)[-1]
    assert manifest(failed)["status"] in ("failed_at_curate", "failed_at_mix")

    resumed = build(root, night_3)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming build {failed.name}" in resumed.stdout
    assert os.readlink(root / "latest") == f"builds/{failed.name}"


def test_a_build_on_an_object_store_uses_beam_filesystems_only(tmp_path, monkeypatch):
    """Input and output on `memfs://` (an in-memory Beam FileSystem without folders): any os/open on a path
    fails here, as it would on gs:// or s3://."""
    from tests import memfs

    monkeypatch.chdir(REPO)
    for f in NIGHT_1:
        memfs.FILES[f"memfs://crawl/night-1/{f.name}"] = f.read_bytes()
    assert run_cli("build", "--config", CONFIG, "--output", "memfs://bucket/root",
                   "--input", "memfs://crawl/night-1/") == 0
    latest = json.loads(memfs.FILES["memfs://bucket/root/latest.json"])
    build_dir = f"memfs://bucket/root/builds/{latest['build_id']}"
    assert json.loads(memfs.FILES[f"{build_dir}/manifest.json"])["status"] == "complete"
    assert any(p.startswith(f"{build_dir}/mix/documents/part-") for p in memfs.FILES)
    assert f"{build_dir}/report.html" in memfs.FILES
    assert run_cli("build", "--config", CONFIG, "--output", "memfs://bucket/root",
                   "--input", "memfs://crawl/night-1/") == 0  # nothing new
    assert not any(p.startswith("memfs://bucket/root/build.lock") for p in memfs.FILES)
    assert not Path("memfs:").exists() and not (REPO / "memfs:").exists()


def test_progress_shows_on_a_terminal(tmp_path):
    import pty

    out = bytearray()

    def read(fd):
        data = os.read(fd, 1024)
        out.extend(data)
        return data

    argv = [CLI, "build", "--config", CONFIG, "--output", str(tmp_path / "tty"), "--input", str(NIGHT_1[1])]
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        status = pty.spawn(argv, read)
    finally:
        os.chdir(cwd)
    assert os.waitstatus_to_exitcode(status) == 0
    shown = out.decode(errors="replace")
    assert "curate: " in shown and "records read" in shown and "mix: " in shown


def test_no_progress_line_when_not_on_a_terminal(two_nights):
    for run in two_nights["runs"]:
        assert "records read" not in run.stdout + run.stderr and "\r" not in run.stdout + run.stderr
