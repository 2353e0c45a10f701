"""What a job (or the CLI) imports at run time, found by reading the source, not by running it.

Every ``import`` statement counts, wherever it is: at module level, inside a function (a lazy
import runs only when that function does), inside ``try``. Only ``if TYPE_CHECKING:`` blocks are
left out. ``job_helpers`` modules are followed; everything else is reported as imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "job_helpers"


@dataclass(frozen=True)
class ImportSite:
    module: str
    source: str
    line: int


def project_file(module: str) -> Path | None:
    """The source file of a ``job_helpers`` module or package, if it is one."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for statement in node.body for child in ast.walk(statement))
    return skipped


def imports_in(path: Path) -> list[ImportSite]:
    """Every module an ``import`` in ``path`` names, with ``from a import b`` giving ``a.b`` when b is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_nodes(tree)
    source = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    here, is_package = _module_name(path) if path.is_relative_to(REPO / PACKAGE) else ("", False)
    found: list[ImportSite] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend(ImportSite(alias.name, source, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            base = node.module or ""
            if node.level:
                anchor = here.split(".") if is_package else here.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append(ImportSite(base, source, node.lineno))
            for alias in node.names:
                if project_file(f"{base}.{alias.name}") is not None:
                    found.append(ImportSite(f"{base}.{alias.name}", source, node.lineno))
    return found


def reachable(entry: Path) -> tuple[list[Path], list[ImportSite]]:
    """The project files ``entry`` can run (itself, the job_helpers modules it reaches and their
    packages' ``__init__``) and every import site in them."""
    files: list[Path] = []
    sites: list[ImportSite] = []
    pending = [entry.resolve()]
    while pending:
        path = pending.pop()
        if path in files:
            continue
        files.append(path)
        for site in imports_in(path):
            sites.append(site)
            parts = site.module.split(".")
            for depth in range(1, len(parts) + 1):
                target = project_file(".".join(parts[:depth]))
                if target is not None and target not in files:
                    pending.append(target)
    return files, sites
