"""Imports run api -> triage -> kb -> models; the library never pulls in the web framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    return [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in p.parts and p.name not in {"__init__.py", "__main__.py"}
    ]


def test_library_packages_do_not_import_litestar():
    modules = _modules("models") + _modules("kb") + _modules("triage")
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('litestar' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_models_and_kb_stay_free_of_ml_libraries():
    modules = _modules("models") + _modules("kb")
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted(m for m in ('numpy', 'sklearn', 'faiss', 'torch', 'litestar') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
