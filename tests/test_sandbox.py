"""The code sandbox contains hostile generated programs: one test per attack.

Each hostile program exits 0 only if its attack worked, so `status != "pass"` means contained.
"""

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from corpusmill.synth.verifiers.sandbox import SandboxLimits, default_python, run_python

pytestmark = pytest.mark.usefixtures("sandbox_ok")
FAST = SandboxLimits(cpu_s=3, wall_s=10, memory_bytes=512 << 20, output_bytes=1 << 20, processes=32)


def test_correct_and_failing_programs():
    ok = run_python("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nprint('fine')\n", FAST)
    assert ok.status == "pass" and ok.output_tail == "fine\n"
    bad = run_python("def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n", FAST)
    assert bad.status == "fail" and "AssertionError" in bad.output_tail


def test_no_network_even_to_this_machine():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    program = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
               "s.sendall(b'leak')\n")
    result = run_python(program, FAST)
    server.close()
    assert result.status == "fail" and not accepted
    outside = run_python("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\n", FAST)
    assert outside.status == "fail"


def test_cannot_write_outside_its_work_directory():
    marker = f"/tmp/corpusmill-escape-{uuid.uuid4().hex}"
    program = (f"open({marker!r}, 'w').write('x')\n"
               f"open({str(Path(__file__).parent / 'escape.txt')!r}, 'w').write('x')\n")
    result = run_python(program, FAST)
    assert result.status != "pass"
    assert not os.path.exists(marker) and not (Path(__file__).parent / "escape.txt").exists()
    # the private /tmp write alone succeeds inside, yet nothing reaches the host's /tmp
    run_python(f"open({marker!r}, 'w').write('x')\n", FAST)
    assert not os.path.exists(marker)


def test_sees_no_host_files_beyond_the_interpreter(tmp_path):
    output_folder = tmp_path / "out"
    output_folder.mkdir()
    (output_folder / "report.json").write_text("{}")
    paths = [os.path.expanduser("~"), "/root", "/home", "/etc/shadow", "/etc/passwd", str(Path(__file__).parent.parent),
             str(output_folder), "/var", "/opt", "/srv", "/mnt"]
    program = (f"import os, sys\nseen = [p for p in {paths!r} if os.path.exists(p)]\nprint(seen)\n"
               "sys.exit(0 if seen else 3)\n")
    result = run_python(program, FAST)
    assert result.status == "fail" and result.returncode == 3, result.output_tail


def test_cannot_read_files_of_the_host_user():
    result = run_python("print(open('/etc/shadow').read()[:20])\nprint(os.listdir('/root'))\n", FAST)
    assert result.status != "pass"
    assert "root:" not in result.output_tail


def test_cannot_read_environment_secrets(monkeypatch):
    monkeypatch.setenv("CORPUSMILL_TEST_SECRET", "s3cr3t-value")
    program = ("import os, sys\nleaks = [v for v in os.environ.values() if 's3cr3t' in v]\n"
               "for pid in os.listdir('/proc'):\n"
               "    try:\n        leaks.append(open(f'/proc/{pid}/environ').read())\n"
               "    except Exception:\n        pass\n"
               "sys.exit(0 if any('s3cr3t' in x for x in leaks) else 3)\n")
    result = run_python(program, FAST)
    assert result.status == "fail" and result.returncode == 3


def test_fork_bomb_is_contained():
    started = time.monotonic()
    result = run_python("import os\nwhile True:\n    os.fork()\n", FAST)
    assert result.status != "pass"
    assert time.monotonic() - started < FAST.wall_s + 5
    assert run_python("print('still fine')", FAST).status == "pass"


def test_memory_bomb_is_contained():
    result = run_python("x = bytearray(8 * 1024 ** 3)\nprint(len(x))\n", FAST)
    assert result.status in ("fail", "error") and "MemoryError" in result.output_tail


def test_infinite_loop_times_out():
    result = run_python("while True:\n    pass\n", SandboxLimits(cpu_s=2, wall_s=10))
    assert result.status == "timeout"
    sleeper = run_python("import time\ntime.sleep(60)\n", SandboxLimits(cpu_s=2, wall_s=2))
    assert sleeper.status == "timeout" and sleeper.seconds < 10


def test_huge_output_is_cut():
    result = run_python("while True:\n    print('x' * 10000)\n", FAST)
    assert result.status == "error" and result.reason == "sandbox_output_limit"
    assert len(result.output_tail) <= 4096


def test_cannot_kill_the_parent():
    program = ("import os, signal\nfor pid in (os.getppid(), 1, -1):\n"
               "    try:\n        os.kill(pid, signal.SIGKILL)\n    except Exception:\n        pass\n")
    run_python(program, FAST)
    assert run_python("print('alive')", FAST).status == "pass"  # and so is this test process


def test_default_python_is_usable_by_the_sandbox_user():
    assert default_python() == "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0, reason="already an ordinary user: every test above ran as one")
def test_an_ordinary_user_gets_the_same_sandbox():
    """Without root there is no uid 65534 to drop to; bubblewrap's user namespace alone must hold."""
    import shutil
    import subprocess
    import tempfile

    from corpusmill.synth.verifiers import sandbox

    where = Path(tempfile.mkdtemp(prefix="corpusmill-ordinary-user-"))  # pytest's tmp_path is root-only
    os.chmod(where, 0o755)
    module = where / "sandbox_copy.py"
    shutil.copy(sandbox.__file__, module)  # the module is stdlib-only: the system python can run it
    os.chmod(module, 0o644)
    probe = ("import json, sandbox_copy as s\n"
             "ok = s.run_python(\"print('fine')\")\n"
             "seen = s.run_python(\"import os, sys; sys.exit(0 if os.path.exists('/home') or "
             "os.path.exists('/root') or os.path.exists('/etc/passwd') else 3)\")\n"
             "net = s.run_python(\"import socket; socket.create_connection(('127.0.0.1', 22), timeout=2)\")\n"
             "print(json.dumps([s.sandbox_problem(), ok.status, seen.returncode, net.status]))\n")
    result = subprocess.run(["setpriv", "--reuid=65533", "--regid=65533", "--clear-groups", default_python(), "-c",
                             probe], cwd=where, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(where)})
    shutil.rmtree(where)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == '[null, "pass", 3, "fail"]'


def test_a_sandbox_that_never_started_is_not_the_programs_fault(monkeypatch):
    from corpusmill.synth.verifiers import sandbox

    monkeypatch.setattr(sandbox, "_command", lambda *args: ["sh", "-c", "echo 'bwrap: no permission'; exit 1"])
    monkeypatch.setattr(sandbox, "START_BACKOFF_S", 0.001)
    result = run_python("print('never runs')", FAST)
    assert result.sandbox_failed and result.status == "error" and result.reason == "sandbox_start_failed"
    assert "bwrap: no permission" in result.detail
