"""docx→PDF through a pool of warm LibreOffice workers.

Each worker is a ``convert_worker.py`` process under Debian's system Python (the
only interpreter that imports ``uno``) owning one ``soffice``. Where bubblewrap
works, a worker and its soffice run in a sandbox with no network, read-only system
directories, a private /tmp holding the throwaway profile, and write access to
that worker's own job directory only; otherwise ``unshare --net``; otherwise none.

The pool bounds everything a caller can wait on: a full queue is refused at once
(RESOURCE_EXHAUSTED), a job that runs past its timeout has its worker killed and
replaced (DEADLINE_EXCEEDED), a worker that crashes mid-job is replaced and the job
fails (UNAVAILABLE). A PDF is returned only after it was completely written and
opens, never a partial one.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from core import errors
from services.filegen import preview

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).resolve().with_name("convert_worker.py")
SANDBOX_MODES = ("auto", "bwrap", "unshare", "none")
SETUP_HINT = "install the system packages listed in scripts/apt-packages.txt (the project's set-up does it)"
# gperftools' allocator (Debian's libtcmalloc-minimal4): soffice spends about a fifth of a
# conversion in glibc malloc/free, and converts ~8% faster with this one preloaded.
TCMALLOC_GLOB = "/usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4"

# Chinese contract templates name Windows fonts; map them onto the Noto CJK faces
# (fonts-noto-cjk) with the same style instead of an arbitrary fallback.
_CJK_SERIF_NAMES = ("SimSun", "宋体", "NSimSun", "新宋体", "STSong", "华文宋体", "FangSong", "仿宋",
                    "FangSong_GB2312", "仿宋_GB2312", "KaiTi", "楷体", "KaiTi_GB2312", "楷体_GB2312")
_CJK_SANS_NAMES = ("SimHei", "黑体", "Microsoft YaHei", "微软雅黑", "DengXian", "等线", "STHeiti", "华文黑体")


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    raw = environ.get(name)
    return Path(raw) if raw else None


@dataclass(frozen=True)
class ConverterSettings:
    """How the conversion pool runs; ``from_env`` reads the ``FILEGEN_*`` variables."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_queue: int = 64  # callers that may wait for a worker beyond those being served
    job_timeout: float = 20.0
    recycle_after: int = 500
    system_python: str = "/usr/bin/python3"
    soffice: str = "/usr/lib/libreoffice/program/soffice.bin"
    fonts_dir: Path | None = None
    job_root: Path | None = None  # None: memory-backed /dev/shm when there is one, else the temp dir
    sandbox: str = "auto"
    start_timeout: float = 60.0
    malloc: str = "auto"  # soffice's allocator: auto (tcmalloc if installed), system, or a library path

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"FILEGEN_CONVERT_WORKERS must be at least 1, got {self.workers}")
        if self.max_queue < 0:
            raise ValueError(f"FILEGEN_CONVERT_QUEUE must not be negative, got {self.max_queue}")
        if not self.job_timeout > 0:
            raise ValueError(f"FILEGEN_CONVERT_TIMEOUT must be positive, got {self.job_timeout}")
        if self.recycle_after < 1:
            raise ValueError(f"FILEGEN_CONVERT_RECYCLE_AFTER must be at least 1, got {self.recycle_after}")
        if not self.start_timeout > 0:
            raise ValueError(f"FILEGEN_CONVERT_START_TIMEOUT must be positive, got {self.start_timeout}")
        if self.sandbox not in SANDBOX_MODES:
            raise ValueError(f"FILEGEN_SANDBOX must be one of {', '.join(SANDBOX_MODES)}, got {self.sandbox!r}")
        if self.fonts_dir is not None and not self.fonts_dir.is_dir():
            raise ValueError(f"FILEGEN_FONTS_DIR {str(self.fonts_dir)!r} is not a directory")
        if self.malloc not in ("auto", "system") and not Path(self.malloc).is_file():
            raise ValueError(f"FILEGEN_SOFFICE_MALLOC must be auto, system or a library file, got {self.malloc!r}")

    def allocator(self) -> Path | None:
        """The library preloaded into soffice, or None for glibc's own malloc."""
        if self.malloc == "system":
            return None
        if self.malloc == "auto":
            found = sorted(glob.glob(TCMALLOC_GLOB))
            return Path(found[0]) if found else None
        return Path(self.malloc).resolve()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConverterSettings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            workers=_env_int(env, "FILEGEN_CONVERT_WORKERS", defaults.workers),
            max_queue=_env_int(env, "FILEGEN_CONVERT_QUEUE", defaults.max_queue),
            job_timeout=_env_float(env, "FILEGEN_CONVERT_TIMEOUT", defaults.job_timeout),
            recycle_after=_env_int(env, "FILEGEN_CONVERT_RECYCLE_AFTER", defaults.recycle_after),
            system_python=env.get("FILEGEN_SYSTEM_PYTHON") or defaults.system_python,
            soffice=env.get("FILEGEN_SOFFICE") or defaults.soffice,
            fonts_dir=_env_path(env, "FILEGEN_FONTS_DIR"),
            job_root=_env_path(env, "FILEGEN_JOB_ROOT"),
            sandbox=env.get("FILEGEN_SANDBOX") or defaults.sandbox,
            start_timeout=_env_float(env, "FILEGEN_CONVERT_START_TIMEOUT", defaults.start_timeout),
            malloc=env.get("FILEGEN_SOFFICE_MALLOC") or defaults.malloc,
        )


@dataclass(frozen=True)
class WorkerInfo:
    """A snapshot of one worker, for health reporting and tests."""

    name: str
    pid: int  # the process group leader (bwrap, unshare or the worker itself)
    soffice_pid: int | None  # as seen from this process, so it can be signalled
    jobs_done: int
    busy: bool


@dataclass(frozen=True)
class PoolStats:
    """How loaded the pool is right now."""

    workers: int  # idle, busy or still starting
    idle: int  # ready for a job
    busy: int
    waiting: int  # callers queued for a free worker


class _WorkerTimeout(Exception):
    pass


class _WorkerDied(Exception):
    pass


class _Worker:
    """One worker process, spoken to over its stdin/stdout (JSON lines)."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], jobs_dir: Path, private_paths: list[Path]) -> None:
        self.name = name
        self.process = process
        self.jobs_dir = jobs_dir
        self.private_paths = private_paths  # directories and sockets removed with the worker
        self.soffice_pid: int | None = None
        self.jobs_done = 0
        self.busy = False
        self.ready = False
        self.retiring = False  # a successor is starting; this one serves until it is ready
        self.retired = False  # the successor took over: stop after the job in hand
        self._buffer = b""
        self._stderr_thread = threading.Thread(
            target=_log_stderr, args=(name, process.stderr), name=f"convert-{name}-stderr", daemon=True
        )
        self._stderr_thread.start()

    def wait_ready(self, timeout: float) -> None:
        message = self._read_message(time.monotonic() + timeout)
        if message.get("event") != "ready":
            raise _WorkerDied(str(message.get("error") or f"unexpected first message {message!r}"))
        self.soffice_pid = _host_pid(self.process.pid, int(message["soffice_pid"]))
        self.ready = True

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise _WorkerDied("the worker process is gone") from None
        return self._read_message(deadline)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                status = self.process.wait()
                raise _WorkerDied(f"the worker exited with status {status}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return dict(json.loads(line))
        except ValueError:
            raise _WorkerDied(f"the worker sent a garbled message: {line[:200]!r}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the whole process group (worker, sandbox, soffice) and remove its files."""
        self.signal_group()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.jobs_dir, ignore_errors=True)
        for path in self.private_paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def stop(self, grace: float = 5.0) -> None:
        """Let soffice shut down cleanly, then make sure nothing of the group is left."""
        if self.alive():
            try:
                self.request({"op": "quit"}, grace)
                self.process.wait(timeout=grace)
            except (_WorkerTimeout, _WorkerDied, subprocess.TimeoutExpired):
                log.warning("converter %s did not stop within %.0f s; killing it", self.name, grace)
        self.kill()


def _log_stderr(name: str, stream: IO[bytes] | None) -> None:
    # Worker log lines are ours; anything else is soffice's chatter.
    if stream is None:
        return
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.startswith("convert_worker "):
                level = logging.WARNING if " ERROR " in line or " WARNING " in line else logging.INFO
                log.log(level, "%s: %s", name, line)
            elif line:
                log.debug("%s soffice: %s", name, line)


def _host_pid(group: int, namespace_pid: int) -> int | None:
    """Find the pid, as this process sees it, of a group member known by its pid in a
    (possibly nested) pid namespace; the last NSpid entry is the innermost one."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in Path(entry.path, "status").read_text().splitlines():
                if line.startswith("NSpid:") and int(line.split()[-1]) == namespace_pid:
                    return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def _office_sockets(profile: Path, pipe_name: str) -> list[Path]:
    """The sockets soffice makes in /tmp: the UNO pipe we name, and its single-instance
    pipe, named by LibreOffice after the MD5 of the profile URL in UTF-16 (each byte in
    unpadded hex), as desktop/source/app/officeipcthread.cxx does."""
    digest = hashlib.md5(profile.resolve().as_uri().encode("utf-16-le"), usedforsecurity=False).digest()
    uid = os.getuid()
    return [Path(f"/tmp/OSL_PIPE_{uid}_{pipe_name}"),
            Path(f"/tmp/OSL_PIPE_{uid}_SingleOfficeIPC_{''.join(format(b, 'x') for b in digest)}")]


def _read_complete_pdf(path: Path) -> bytes:
    """The PDF at ``path`` if it is complete and opens; otherwise Unavailable."""
    try:
        data = path.read_bytes()
    except OSError:
        raise errors.Unavailable("the converter reported success but wrote no PDF") from None
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
        raise errors.Unavailable("the converter wrote an incomplete PDF")
    try:
        pages = preview.page_count(data)
    except errors.InvalidArgument:
        raise errors.Unavailable("the converter wrote a PDF that does not open") from None
    if pages < 1:
        raise errors.Unavailable("the converter wrote a PDF without pages")
    return data


def _fonts_conf(fonts_dir: Path | None) -> str:
    """A fontconfig file: the system configuration, the custom font directory and
    the Chinese font name aliases."""
    parts = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">',
        "<fontconfig>",
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    ]
    if fonts_dir is not None:
        parts.append(f"  <dir>{escape(str(fonts_dir.resolve()))}</dir>")
    for names, target in ((_CJK_SERIF_NAMES, "Noto Serif CJK SC"), (_CJK_SANS_NAMES, "Noto Sans CJK SC")):
        for name in names:
            parts.append(
                f'  <alias binding="same"><family>{escape(name)}</family>'
                f"<prefer><family>{target}</family></prefer></alias>"
            )
    parts.append("</fontconfig>")
    return "\n".join(parts) + "\n"


# System paths a sandboxed worker may read; everything else of the host is absent.
_BWRAP_READ_ONLY = (
    "/usr", "/etc/fonts", "/etc/libreoffice", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime", "/etc/alternatives",
    "/etc/python3", "/etc/python3.11", "/var/cache/fontconfig",
)


def _bwrap_prefix(writable: Path, readable: list[Path]) -> list[str]:
    args = [
        "bwrap", "--die-with-parent",
        "--unshare-user", "--uid", "65534", "--gid", "65534",
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--cap-drop", "ALL",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
    ]
    for system_path in _BWRAP_READ_ONLY:
        args += ["--ro-bind-try", system_path, system_path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(writable), str(writable), "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--chdir", "/tmp", "--"]
    return args


def _probe(args: list[str]) -> str | None:
    """Run a sandbox probe; None when it works, else why not."""
    try:
        result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        return result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
    return None


class ConverterPool:
    """A fixed number of warm LibreOffice workers behind a bounded queue.

    Thread-safe; ``convert`` blocks, for use from a gRPC thread pool.
    """

    def __init__(self, settings: ConverterSettings | None = None) -> None:
        self.settings = settings or ConverterSettings()
        self.sandbox = "none"
        self._cond = threading.Condition()
        self._idle: deque[_Worker] = deque()
        self._workers: set[_Worker] = set()
        self._replacers: set[threading.Thread] = set()
        self._slots = threading.BoundedSemaphore(self.settings.workers + self.settings.max_queue)
        self._counter = 0
        self._waiting = 0
        self._closed = False
        self._started = False
        self._root: Path | None = None
        # One long-lived thread spawns every worker: bwrap's --die-with-parent fires when
        # the spawning *thread* ends, so spawning from short-lived threads would kill it.
        self._spawner: concurrent.futures.ThreadPoolExecutor | None = None
        self._finalizer: weakref.finalize | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> ConverterPool:
        """Start every worker in parallel and wait until each has converted its warm-up
        document; raise Unavailable (naming the cause) if any cannot start."""
        if self._started:
            return self
        self._started = True
        try:
            pending = self._start_workers()
        except BaseException:
            self.close()  # a pool that failed to start refuses work instead of queueing it
            raise
        with self._cond:
            self._idle.extend(pending)
            self._cond.notify_all()
        return self

    def _start_workers(self) -> list[_Worker]:
        self._check_installation()
        settings = self.settings
        base = settings.job_root or memory_job_root()
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
            _remove_orphans(base)
        self._root = Path(tempfile.mkdtemp(prefix=f"{_ROOT_PREFIX}{os.getpid()}-", dir=base))
        for directory in ("jobs", "private", "bin"):
            (self._root / directory).mkdir()
        # The sandbox sees a copy of the worker program, not the project's tree.
        shutil.copyfile(WORKER_SCRIPT, self._root / "bin" / WORKER_SCRIPT.name)
        (self._root / "fonts.conf").write_text(_fonts_conf(settings.fonts_dir), encoding="utf-8")
        self.sandbox = self._choose_sandbox()
        self._spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="convert-spawner")
        self._finalizer = weakref.finalize(self, _kill_all, self._workers, self._root)
        started = time.monotonic()
        pending = [self._spawn() for _ in range(settings.workers)]
        try:
            for worker in pending:
                worker.wait_ready(settings.start_timeout)
        except (_WorkerDied, _WorkerTimeout) as exc:
            reason = str(exc) or f"no answer within {settings.start_timeout:g} s"
            for worker in pending:
                worker.kill()
            raise errors.Unavailable(f"a LibreOffice converter did not start: {reason}") from None
        log.info("converter pool ready: %d workers in %.1f s, sandbox %s",
                 settings.workers, time.monotonic() - started, self.sandbox)
        return pending

    def close(self) -> None:
        """Stop every worker and remove the pool's directories. Jobs still running fail."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            replacers = list(self._replacers)
            self._cond.notify_all()
        for worker in workers:
            if worker.busy or not worker.ready:
                worker.signal_group()  # the thread using it sees it die and cleans up
            else:
                worker.stop(grace=2.0)
        for thread in replacers:
            thread.join(timeout=self.settings.start_timeout)
        if self._spawner is not None:
            self._spawner.shutdown(wait=True)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        if self._finalizer is not None:
            self._finalizer.detach()

    def __enter__(self) -> ConverterPool:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the API ----------------------------------------------------------------------

    def convert(self, docx: bytes, timeout: float | None = None) -> bytes:
        """Convert a .docx to PDF bytes.

        ``timeout`` (default: the configured job timeout) bounds the conversion itself;
        waiting for a free worker is bounded by the same amount again.
        Raises InvalidArgument (not a readable .docx), ResourceExhausted (queue full),
        DeadlineExceeded (the conversion ran too long) or Unavailable (a worker crashed,
        no worker became free, or the pool is closed).
        """
        if not docx:
            raise errors.invalid("document", "is empty")
        limit = self.settings.job_timeout if timeout is None else timeout
        if not limit > 0:
            raise errors.invalid("timeout", "must be positive")
        if not self._started or self._closed:
            raise errors.Unavailable("the converter pool is not running")
        if not self._slots.acquire(blocking=False):
            raise errors.ResourceExhausted(
                f"the conversion queue is full ({self.settings.max_queue} waiting); retry later")
        try:
            # A job that soffice never started (it died while idle) may go to another worker.
            for _ in range(2):
                worker = self._take_idle(time.monotonic() + limit)
                result = self._run(worker, docx, limit)
                if result is not None:
                    return result
            raise errors.Unavailable("the converters are restarting; retry")
        finally:
            self._slots.release()

    def stats(self) -> PoolStats:
        with self._cond:
            return PoolStats(len(self._workers), len(self._idle), sum(w.busy for w in self._workers), self._waiting)

    def worker_info(self) -> list[WorkerInfo]:
        with self._cond:
            return [WorkerInfo(w.name, w.process.pid, w.soffice_pid, w.jobs_done, w.busy)
                    for w in sorted(self._workers, key=lambda w: w.name)]

    # -- internals --------------------------------------------------------------------

    def _check_installation(self) -> None:
        for label, path in (("system Python", self.settings.system_python), ("soffice", self.settings.soffice)):
            if not os.access(path, os.X_OK):
                raise errors.Unavailable(f"LibreOffice conversion needs {label} at {path}: {SETUP_HINT}")
        probe = subprocess.run([self.settings.system_python, "-c", "import uno"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        if probe.returncode != 0:
            raise errors.Unavailable(
                f"{self.settings.system_python} cannot import uno (python3-uno missing?): {SETUP_HINT}")

    def _choose_sandbox(self) -> str:
        wanted = self.settings.sandbox
        assert self._root is not None
        reasons: list[str] = []
        if wanted in ("auto", "bwrap"):
            if shutil.which("bwrap") is None:
                reasons.append("bwrap is not installed")
            else:
                why = _probe(_bwrap_prefix(self._root / "jobs", []) + ["/usr/bin/true"])
                if why is None:
                    return "bwrap"
                reasons.append(f"bwrap does not work here: {why}")
            if wanted == "bwrap":
                raise errors.Unavailable(f"FILEGEN_SANDBOX=bwrap but {reasons[-1]}")
        if wanted in ("auto", "unshare"):
            why = _probe(["unshare", "--net", "--", "/usr/bin/true"]) if shutil.which("unshare") else "not installed"
            if why is None:
                if reasons:
                    log.warning("converters run without a filesystem sandbox (%s); network is cut by unshare",
                                "; ".join(reasons))
                return "unshare"
            reasons.append(f"unshare --net does not work here: {why}")
            if wanted == "unshare":
                raise errors.Unavailable(f"FILEGEN_SANDBOX=unshare but {reasons[-1]}")
        if wanted == "auto":
            log.warning("converters run without any sandbox: %s", "; ".join(reasons))
        return "none"

    def _spawn(self) -> _Worker:
        assert self._root is not None and self._spawner is not None
        with self._cond:
            self._counter += 1
            name = f"w{self._counter}"
        jobs_dir = self._root / "jobs" / name
        private_dir = self._root / "private" / name
        jobs_dir.mkdir()
        private_dir.mkdir()
        scratch = [private_dir]
        fonts_conf = self._root / "fonts.conf"
        script = self._root / "bin" / WORKER_SCRIPT.name
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "FONTCONFIG_FILE": str(fonts_conf)}
        allocator = self.settings.allocator()
        # The pipe name only has to be unique among the soffices sharing a socket directory.
        pipe_name = f"filegen-{os.urandom(6).hex()}"
        if self.sandbox == "bwrap":
            profile = Path("/tmp/profile")  # on the sandbox's own tmpfs: gone with it
            readable = [script, fonts_conf] + ([self.settings.fonts_dir.resolve()]
                                                      if self.settings.fonts_dir else [])
            readable += [p for p in self._install_roots() + ([allocator] if allocator else [])
                         if p != Path("/usr") and Path("/usr") not in p.parents]
            prefix = _bwrap_prefix(jobs_dir, readable)
        else:
            profile = private_dir / "profile"
            env.update(HOME=str(private_dir), TMPDIR=str(private_dir))
            # soffice's sockets live in the shared /tmp here; a killed one cannot remove its own.
            scratch += _office_sockets(profile, pipe_name)
            prefix = ["unshare", "--net", "--"] if self.sandbox == "unshare" else []
        command = prefix + [
            self.settings.system_python, str(script),
            "--soffice", self.settings.soffice, "--profile", str(profile), "--pipe-name", pipe_name,
            "--start-timeout", str(self.settings.start_timeout),
        ] + (["--preload", str(allocator)] if allocator else [])

        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, cwd=str(private_dir), start_new_session=True, close_fds=True,
            )

        process = self._spawner.submit(popen).result()
        worker = _Worker(name, process, jobs_dir, scratch)
        with self._cond:
            self._workers.add(worker)
        return worker

    def _install_roots(self) -> list[Path]:
        # A system Python or LibreOffice configured outside /usr must be visible in the sandbox.
        python = Path(self.settings.system_python).resolve()
        soffice = Path(self.settings.soffice).resolve()
        return [python.parent.parent, soffice.parent.parent]

    def _take_idle(self, deadline: float) -> _Worker:
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise errors.Unavailable("the converter pool is closed")
                    if self._idle:
                        worker = self._idle.popleft()
                        worker.busy = True
                        return worker
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise errors.Unavailable("no converter became free in time; retry later")
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            worker.busy = False
            worker.jobs_done += 1
            if not self._closed and not worker.retired:
                self._idle.append(worker)
                self._cond.notify()
                if worker.jobs_done >= self.settings.recycle_after and not worker.retiring:
                    worker.retiring = True
                    thread = threading.Thread(target=self._succeed, args=(worker,),
                                              name=f"convert-recycle-{worker.name}", daemon=True)
                    self._replacers.add(thread)
                    thread.start()
                return
            self._workers.discard(worker)
        worker.stop(grace=2.0)

    def _succeed(self, old: _Worker) -> None:
        """Recycle ``old`` without shrinking the pool: it keeps serving while its
        successor starts, and is stopped (after the job in hand) once that is ready."""
        log.info("recycling converter %s after %d jobs", old.name, old.jobs_done)
        try:
            new = self._start_ready(f"to succeed {old.name}")
            stop_old = False
            with self._cond:
                closed, old_lost = self._closed, old not in self._workers
                if new is None:
                    old.retiring = False  # its next job tries again
                elif not closed:
                    self._idle.append(new)
                    self._workers.discard(old)
                    old.retired = True
                    stop_old = old in self._idle
                    if stop_old:
                        self._idle.remove(old)
                    self._cond.notify()
            if new is not None and closed:
                new.stop(grace=2.0)
            elif new is not None and stop_old:
                old.stop(grace=2.0)
            elif new is None and old_lost and not closed:
                self._replacement(old, old_is_dead=True)  # it died meanwhile: replace it the usual way
        finally:
            with self._cond:
                self._replacers.discard(threading.current_thread())

    def _run(self, worker: _Worker, docx: bytes, timeout: float) -> bytes | None:
        """One job on ``worker``; None if soffice was gone before the job started."""
        if not worker.alive():
            self._replace(worker, kill_first=True)
            return None
        # Each job its own file names: soffice may still be closing the previous document.
        stem = worker.jobs_dir / f"job-{worker.jobs_done}-{os.urandom(4).hex()}"
        source, target = stem.with_suffix(".docx"), stem.with_suffix(".pdf")
        try:
            source.write_bytes(docx)
            try:
                reply = worker.request({"op": "convert", "input": str(source), "output": str(target)}, timeout)
            except _WorkerTimeout:
                log.warning("converter %s exceeded %.1f s; killing it", worker.name, timeout)
                self._replace(worker, kill_first=True)
                raise errors.DeadlineExceeded(
                    f"the conversion took longer than {timeout:g} s and was stopped") from None
            except _WorkerDied as exc:
                log.warning("converter %s died during a job: %s", worker.name, exc)
                self._replace(worker, kill_first=True)
                raise errors.Unavailable("the converter crashed during the conversion") from None
            if reply.get("ok"):
                try:
                    pdf = _read_complete_pdf(target)
                except errors.Unavailable:
                    self._replace(worker, kill_first=True)
                    raise
                self._release(worker)
                return pdf
            kind, message = reply.get("kind"), str(reply.get("error", ""))
            if kind == "bad_input":
                self._release(worker)
                raise errors.invalid("document", f"is not a readable .docx ({message})")
            log.warning("converter %s failed (%s): %s", worker.name, kind, message)
            self._replace(worker, kill_first=True)
            if kind == "not_started":
                return None
            raise errors.Unavailable("the converter crashed during the conversion")
        finally:
            for path in (source, target, target.with_name(target.name + ".part")):
                path.unlink(missing_ok=True)

    def _replace(self, worker: _Worker, kill_first: bool) -> None:
        """Take ``worker`` out of service and start its successor in the background."""
        if kill_first:
            worker.kill()
        with self._cond:
            self._workers.discard(worker)
            closed = self._closed
            if worker.retiring or worker.retired:
                return  # its successor is starting or running already
            if not closed:
                thread = threading.Thread(target=self._replacement, args=(worker, kill_first),
                                          name=f"convert-replace-{worker.name}", daemon=True)
                self._replacers.add(thread)
        if closed:
            if not kill_first:
                worker.stop(grace=2.0)
            return
        thread.start()

    def _start_ready(self, purpose: str) -> _Worker | None:
        """A new worker that has converted its warm-up document, or None (logged) if it
        could not start."""
        try:
            worker = self._spawn()
        except Exception:
            if not self._closed:
                log.exception("could not start a converter %s", purpose)
            return None
        try:
            worker.wait_ready(self.settings.start_timeout)
        except (_WorkerDied, _WorkerTimeout) as exc:
            if not self._closed:
                log.error("a converter %s did not start: %s", purpose, exc or "timeout")
            with self._cond:
                self._workers.discard(worker)
            worker.kill()
            return None
        return worker

    def _replacement(self, old: _Worker, old_is_dead: bool) -> None:
        delay = 1.0
        try:
            while True:
                with self._cond:
                    if self._closed:
                        break
                worker = self._start_ready(f"to replace {old.name}")
                if worker is not None:
                    with self._cond:
                        if not self._closed:
                            self._idle.append(worker)
                            self._cond.notify()
                            break
                    worker.stop(grace=2.0)
                    break
                with self._cond:
                    if self._closed:
                        break
                    self._cond.wait(delay)
                delay = min(delay * 2, 30.0)
        finally:
            if not old_is_dead:
                old.stop()
            with self._cond:
                self._replacers.discard(threading.current_thread())


_ROOT_PREFIX = "filegen-convert-"


def memory_job_root() -> Path | None:
    """/dev/shm when it is a writable directory: every job writes a .docx and a PDF that are
    read once and deleted within a second, so keeping them off the disk spares the writeback."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def _remove_orphans(base: Path) -> None:
    """Remove pool directories whose process is gone (killed before it could clean up):
    in a memory-backed root they would hold memory until the next boot."""
    for path in base.glob(f"{_ROOT_PREFIX}*"):
        pid = path.name[len(_ROOT_PREFIX):].partition("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _kill_all(workers: set[_Worker], root: Path) -> None:
    # Last resort at interpreter exit for a pool that was never closed.
    for worker in list(workers):
        worker.kill()
    shutil.rmtree(root, ignore_errors=True)
