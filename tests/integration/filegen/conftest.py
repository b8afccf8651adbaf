from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.filegen.convert import ConverterPool, ConverterSettings

SETUP = "run the project's set-up (make setup), which installs scripts/apt-packages.txt"


def require_libreoffice(settings: ConverterSettings) -> None:
    """Fail (never skip) when LibreOffice is missing: these tests are the proof it works."""
    if not Path(settings.soffice).exists():
        pytest.fail(f"LibreOffice is not installed ({settings.soffice} missing): {SETUP}", pytrace=False)
    probe = subprocess.run([settings.system_python, "-c", "import uno"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"{settings.system_python} cannot import uno (python3-uno missing): {SETUP}", pytrace=False)


def start_pool(tmp_root: Path, **overrides: object) -> ConverterPool:
    settings = ConverterSettings(job_root=tmp_root, **overrides)  # type: ignore[arg-type]
    require_libreoffice(settings)
    return ConverterPool(settings).start()


@pytest.fixture(scope="package")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConverterPool]:
    """Two warm workers shared by every test that only needs conversions to work."""
    started = start_pool(tmp_path_factory.mktemp("convert"), workers=2)
    yield started
    started.close()
