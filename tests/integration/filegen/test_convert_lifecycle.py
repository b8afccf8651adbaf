"""The pool under failure: crashed, hung and recycled workers, a full queue, the
sandbox, custom fonts and a missing LibreOffice."""
from __future__ import annotations

import io
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from core import errors
from services.filegen.convert import ConverterPool, ConverterSettings, _read_complete_pdf, memory_job_root
from services.filegen.preview import page_count

from .conftest import require_libreoffice, start_pool
from .documents import in_font, loan_contract, long_document
from .test_convert import fonts_used

SOURCE_FONT = Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf")  # fonts-liberation2


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def gone(pid: int | None) -> bool:
    assert pid is not None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def settled(pool: ConverterPool) -> ConverterPool:
    """The pool once every worker is ready again (replacements start in the background)."""
    wait_for(lambda: pool.stats().idle == pool.settings.workers == pool.stats().workers, timeout=60)
    return pool


@pytest.fixture
def single(one_worker: ConverterPool) -> ConverterPool:
    return settled(one_worker)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConverterPool]:
    """One worker and room for one waiting caller, so every state is observable."""
    pool = start_pool(tmp_path_factory.mktemp("single"), workers=1, max_queue=1, job_timeout=30)
    yield pool
    pool.close()


def test_killing_soffice_mid_job_fails_that_job_and_the_next_succeeds(single: ConverterPool) -> None:
    [before] = single.worker_info()
    with ThreadPoolExecutor(max_workers=1) as caller:
        job = caller.submit(single.convert, long_document(1500))
        wait_for(lambda: single.stats().busy == 1)
        time.sleep(0.5)  # well inside a conversion that takes seconds
        assert before.soffice_pid is not None
        os.kill(before.soffice_pid, signal.SIGKILL)
        with pytest.raises(errors.Unavailable, match="crashed"):
            job.result(timeout=30)

    wait_for(lambda: gone(before.pid))
    assert page_count(single.convert(loan_contract(pages=2))) == 2
    [after] = single.worker_info()
    assert after.name != before.name and after.soffice_pid != before.soffice_pid


def test_a_hung_soffice_is_cut_off_at_the_timeout(single: ConverterPool) -> None:
    [before] = single.worker_info()
    assert before.soffice_pid is not None
    os.kill(before.soffice_pid, signal.SIGSTOP)  # a real hang: soffice never answers
    started = time.monotonic()

    with pytest.raises(errors.DeadlineExceeded, match="longer than 2 s"):
        single.convert(loan_contract(pages=1), timeout=2)

    assert 2 <= time.monotonic() - started < 6
    wait_for(lambda: gone(before.soffice_pid) and gone(before.pid))  # the whole group was killed
    assert page_count(single.convert(loan_contract(pages=1))) == 1


def test_a_full_queue_is_refused_at_once(single: ConverterPool) -> None:
    [worker] = single.worker_info()
    assert worker.soffice_pid is not None
    document = loan_contract(pages=1)
    os.kill(worker.soffice_pid, signal.SIGSTOP)  # hold the only worker busy
    try:
        with ThreadPoolExecutor(max_workers=2) as callers:
            running = callers.submit(single.convert, document, 20)
            wait_for(lambda: single.stats().busy == 1)
            queued = callers.submit(single.convert, document, 20)
            wait_for(lambda: single.stats().waiting == 1)

            started = time.monotonic()
            with pytest.raises(errors.ResourceExhausted, match="queue is full"):
                single.convert(document)
            assert time.monotonic() - started < 0.5

            os.kill(worker.soffice_pid, signal.SIGCONT)
            assert page_count(running.result(timeout=30)) == 1
            assert page_count(queued.result(timeout=30)) == 1
    finally:
        os.kill(worker.soffice_pid, signal.SIGCONT)
    assert [info.name for info in single.worker_info()] == [worker.name]


def test_soffice_runs_without_network_and_sees_only_what_it_needs(single: ConverterPool) -> None:
    [worker] = single.worker_info()
    pid = worker.soffice_pid
    assert single.sandbox in ("bwrap", "unshare"), f"no sandbox in use: {single.sandbox}"
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    if single.sandbox == "bwrap":
        view = Path(f"/proc/{pid}/root")
        assert (view / "usr/lib/libreoffice").is_dir()
        for hidden in ("work", "root", "home", "etc/shadow", "var/lib"):
            assert not (view / hidden).exists(), hidden
        jobs = single.settings.job_root
        assert jobs is not None
        # Only this worker's own job directory is visible under the job root.
        visible = [path.name for path in (view / str(jobs).lstrip("/")).rglob("w*") if path.parent.name == "jobs"]
        assert visible == [worker.name]


def test_each_soffice_has_its_own_throwaway_profile_with_macros_off(pool: ConverterPool) -> None:
    profiles = set()
    for worker in settled(pool).worker_info():
        arguments = Path(f"/proc/{worker.soffice_pid}/cmdline").read_bytes().split(b"\0")
        [installation] = [a.decode() for a in arguments if a.startswith(b"-env:UserInstallation=file://")]
        profile = installation.removeprefix("-env:UserInstallation=file://")
        # Read through the process's own root: inside bwrap the profile is on its private /tmp.
        seen = Path(f"/proc/{worker.soffice_pid}/root{profile}")
        profiles.add((seen.stat().st_dev, seen.stat().st_ino))
        registry = (seen / "user/registrymodifications.xcu").read_text()
        assert re.search(r'"MacroSecurityLevel"[^<]*><value>3</value>', registry)
        assert re.search(r'"DisableMacrosExecution"[^<]*><value>true</value>', registry)
    assert len(profiles) == 2  # two directories, not one shared


def test_a_truncated_pdf_is_never_returned(tmp_path: Path) -> None:
    pdf = _sample_pdf()
    complete = tmp_path / "complete.pdf"
    complete.write_bytes(pdf)
    assert _read_complete_pdf(complete) == pdf
    for cut in (len(pdf) // 2, len(pdf) - 8):  # a half-written file; one missing its %%EOF
        partial = tmp_path / f"cut-{cut}.pdf"
        partial.write_bytes(pdf[:cut])
        with pytest.raises(errors.Unavailable, match="incomplete"):
            _read_complete_pdf(partial)
    with pytest.raises(errors.Unavailable, match="no PDF"):
        _read_complete_pdf(tmp_path / "missing.pdf")


def _sample_pdf() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(image, format="PDF")
    return image.getvalue()


def test_workers_are_recycled_after_m_jobs(tmp_path: Path) -> None:
    pool = start_pool(tmp_path, workers=1, recycle_after=3)
    try:
        [first] = pool.worker_info()
        for done in (1, 2):
            pool.convert(loan_contract(pages=1))
            assert [(info.name, info.jobs_done) for info in pool.worker_info()] == [(first.name, done)]
        pool.convert(loan_contract(pages=1))  # the third: a successor starts
        # The pool never shrinks while it recycles: the first worker serves until then.
        assert page_count(pool.convert(loan_contract(pages=1))) == 1

        def names() -> list[str]:
            return [info.name for info in pool.worker_info()]

        wait_for(lambda: len(names()) == 1 and names() != [first.name])
        wait_for(lambda: gone(first.soffice_pid) and gone(first.pid))
        assert page_count(pool.convert(loan_contract(pages=1))) == 1
        [second] = pool.worker_info()
        assert second.name != first.name and second.jobs_done >= 1
    finally:
        pool.close()
    assert gone(second.soffice_pid) and gone(second.pid)
    assert list(tmp_path.iterdir()) == []


def test_a_custom_fonts_directory_adds_fonts(tmp_path: Path, pool: ConverterPool) -> None:
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    face = TTFont(SOURCE_FONT)
    for record in face["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = "Econtract Test Face"
        elif record.nameID in (3, 6):
            record.string = "EcontractTestFace"
    face.save(fonts / "econtract-test-face.ttf")
    document = in_font("Econtract Test Face", "Custom face 借款")

    assert "EcontractTestFace" not in fonts_used(pool.convert(document))  # unknown without the directory
    custom = start_pool(tmp_path / "jobs", workers=1, fonts_dir=fonts)
    try:
        used = fonts_used(custom.convert(document))
    finally:
        custom.close()
    assert used.get("EcontractTestFace") is True, used


def test_missing_libreoffice_fails_with_the_set_up_hint(tmp_path: Path) -> None:
    pool = ConverterPool(ConverterSettings(workers=1, soffice=str(tmp_path / "no-soffice"), job_root=tmp_path))
    with pytest.raises(errors.Unavailable, match=r"scripts/apt-packages\.txt"):
        pool.start()
    with pytest.raises(errors.Unavailable):
        pool.convert(loan_contract(pages=1))


def test_settings_from_the_environment_fail_fast_on_bad_values() -> None:
    settings = ConverterSettings.from_env({"FILEGEN_CONVERT_WORKERS": "3", "FILEGEN_CONVERT_TIMEOUT": "7.5"})
    assert (settings.workers, settings.job_timeout) == (3, 7.5)
    with pytest.raises(ValueError, match="FILEGEN_CONVERT_WORKERS"):
        ConverterSettings.from_env({"FILEGEN_CONVERT_WORKERS": "many"})
    with pytest.raises(ValueError, match="FILEGEN_SANDBOX"):
        ConverterSettings.from_env({"FILEGEN_SANDBOX": "docker"})
    with pytest.raises(ValueError, match="FILEGEN_CONVERT_QUEUE"):
        ConverterSettings.from_env({"FILEGEN_CONVERT_QUEUE": "-1"})
    with pytest.raises(ValueError, match="FILEGEN_SOFFICE_MALLOC"):
        ConverterSettings.from_env({"FILEGEN_SOFFICE_MALLOC": "/no/such/libmalloc.so"})
    assert ConverterSettings.from_env({"FILEGEN_SOFFICE_MALLOC": "system"}).allocator() is None


def _mapped_libraries(pid: int | None) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def test_soffice_runs_on_the_preloaded_allocator_and_the_worker_does_not(pool: ConverterPool) -> None:
    allocator = pool.settings.allocator()
    assert allocator is not None, "libtcmalloc-minimal4 is in scripts/apt-packages.txt"
    for info in pool.worker_info():
        assert allocator.name in _mapped_libraries(info.soffice_pid)
        worker_pid = next(int(p) for p in _children_named(info.pid, "python3"))
        assert allocator.name not in _mapped_libraries(worker_pid)


def test_system_malloc_preloads_nothing(tmp_path: Path) -> None:
    pool = start_pool(tmp_path, workers=1, malloc="system")
    try:
        [info] = pool.worker_info()
        assert "tcmalloc" not in _mapped_libraries(info.soffice_pid)
        assert page_count(pool.convert(loan_contract(pages=1))) == 1
    finally:
        pool.close()


def _children_named(root: int, name: str) -> Iterator[str]:
    """Pids of ``root`` and its descendants whose command name is ``name``."""
    pending = [str(root)]
    while pending:
        pid = pending.pop()
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                yield pid
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += (task / "children").read_text().split()
        except FileNotFoundError:
            continue


def test_jobs_default_to_memory_and_orphaned_pool_directories_are_removed() -> None:
    shm = memory_job_root()
    assert shm == Path("/dev/shm"), "this machine has a writable tmpfs /dev/shm"
    orphan = shm / "filegen-convert-4194305-test"  # above Linux's largest pid: its process is gone
    live = shm / f"filegen-convert-{os.getpid()}-test"  # this process: still running
    orphan.mkdir()
    live.mkdir()
    try:
        settings = ConverterSettings(workers=1)
        require_libreoffice(settings)
        others = set(shm.glob(f"filegen-convert-{os.getpid()}-*"))  # e.g. the mesh's own pool
        with ConverterPool(settings).start() as pool:
            mine = sorted(set(shm.glob(f"filegen-convert-{os.getpid()}-*")) - others)
            assert len(mine) == 1 and (mine[0] / "jobs").is_dir()
            assert page_count(pool.convert(loan_contract(pages=1))) == 1
            assert not orphan.exists() and live.exists()
        assert not mine[0].exists()
    finally:
        for path in (orphan, live):
            if path.exists():
                path.rmdir()
