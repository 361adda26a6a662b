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

from corpusmill.synth.verifiers.sandbox import SandboxLimits, default_python, isolation_available, run_python

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(),
                                reason="the sandbox drops privileges to uid 65534, which needs root and "
                                       "a system /usr/bin/python3")
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
    if isolation_available() != "bwrap":
        pytest.skip("without bubblewrap the sandbox shares /tmp (unshare fallback)")
    # the private /tmp write alone succeeds inside, yet nothing reaches the host's /tmp
    run_python(f"open({marker!r}, 'w').write('x')\n", FAST)
    assert not os.path.exists(marker)


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
    assert result.status == "error" and result.reason == "output or file size limit"
    assert len(result.output_tail) <= 4096


def test_cannot_kill_the_parent():
    program = ("import os, signal\nfor pid in (os.getppid(), 1, -1):\n"
               "    try:\n        os.kill(pid, signal.SIGKILL)\n    except Exception:\n        pass\n")
    run_python(program, FAST)
    assert run_python("print('alive')", FAST).status == "pass"  # and so is this test process


def test_default_python_is_usable_by_the_sandbox_user():
    assert default_python() == "/usr/bin/python3"
