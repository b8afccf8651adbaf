"""Fixtures for the filegen unit tests; the builders live in tests.fixtures.docx_fixtures."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.docx_fixtures import loan_contract_data, loan_contract_docx_bytes, make_loan_contract_docx


@pytest.fixture(scope="session")
def loan_template() -> bytes:
    """The three-page Chinese loan contract template (.docx bytes)."""
    return loan_contract_docx_bytes()


@pytest.fixture
def loan_template_path(tmp_path: Path) -> Path:
    """The same template written to a file, for code that takes paths."""
    return make_loan_contract_docx(tmp_path / "loan_contract.docx")


@pytest.fixture
def loan_data() -> dict[str, Any]:
    """Fresh data for the loan contract (tests may change it)."""
    return loan_contract_data()
