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


def _sources() -> list[Path]:
    return [
        p
        for package in ("api", "triage", "kb", "models")
        for p in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in p.parts
    ]


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in _sources() if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}


def test_no_module_imports_another_modules_private_name():
    import ast

    private = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _PACKAGES:
                private += [
                    f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")
                ]
    assert private == []


_PACKAGES = {"api", "triage", "kb", "models"}


def test_no_import_circles_between_the_modules_of_any_package():
    import grimp  # import-linter's graph library (a dev dependency)

    graph = grimp.build_graph(*sorted(_PACKAGES))
    packages = sorted(m for m in graph.modules if graph.find_children(m))  # every package, sub-packages too
    assert {p: breakers for p in packages if (breakers := graph.nominate_cycle_breakers(p))} == {}
