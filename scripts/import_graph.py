"""The import graph of the pipeline's packages, its rules, and its picture in docs/architecture.md.

Reads every module of ``headgan_prep`` and ``headgan_model`` as text (imports inside functions and
``TYPE_CHECKING`` blocks count too) and gives

* the module graph: module → the project modules it imports;
* the package graph: ``headgan_prep.fit`` → ``headgan_prep.morphable``, … (a top-level module such
  as ``headgan_prep.cli`` is a node of its own);
* :func:`violations` of the import rules (docs/architecture.md, "Import rules");
* a Mermaid picture of the package graph.

Usage::

    python scripts/import_graph.py            # print the Mermaid picture
    python scripts/import_graph.py --write    # put it into docs/architecture.md
    python scripts/import_graph.py --check    # exit 1 when a rule is broken or the picture is stale
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("headgan_prep", "headgan_model")
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import-graph:begin -->", "<!-- import-graph:end -->"

BASE = {
    "headgan_prep": {"store", "models", "settings", "preview"},
    "headgan_model": {"networks"},
}
"""Packages every package of the same library may import; they import only each other."""

STAGES = {
    "headgan_prep": {
        "manifest": set(),
        "demo": set(),
        "ingest": {"manifest"},
        "landmarks": {"ingest"},
        "audio": {"ingest"},
        "morphable": {"landmarks"},
        "fit": {"morphable"},
        "render": {"fit"},
        "dataset": {"render", "audio"},
    },
    "headgan_model": {
        "train": set(),
        "metrics": set(),
        "apps": {"train", "metrics"},
        "evaluate": {"apps", "metrics"},
    },
}
"""The stages of each library and the stages they come right after (the DAG); a stage may import
the base packages and the stages before it, never one after it."""

FRONT = {"cli"}
"""Command lines: they may import anything of their library; nothing of the library imports them."""

FORBIDDEN = {"headgan_prep": ("headgan_model", "snakemake")}
"""Top-level imports a library never makes."""


def module_name(path: Path, root: Path = ROOT) -> str:
    """``headgan_prep/fit/shard.py`` → ``headgan_prep.fit.shard``; packages by their ``__init__``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name ``module`` imports (absolute; ``from a import b`` gives ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module
            names.add(parent)
            names.update(f"{parent}.{alias.name}" for alias in node.names)
    return names


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the project modules it imports (only names that are modules of the project)."""
    sources = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            sources[module_name(path, root)] = (ast.parse(path.read_text(), str(path)), path.name == "__init__.py")
    graph = {}
    for module, (tree, is_package) in sources.items():
        graph[module] = {name for name in imported_names(tree, module, is_package) if name in sources} - {module}
    return graph


def external_imports(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the top-level names of everything it imports (``snakemake``, ``headgan_model``, …)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            tree = ast.parse(path.read_text(), str(path))
            found[module] = {n.split(".")[0] for n in imported_names(tree, module, path.name == "__init__.py")}
    return found


def package_of(module: str) -> str:
    """``headgan_prep.fit.shard`` → ``headgan_prep.fit``; ``headgan_prep.cli`` stays itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package → the other packages its modules import."""
    graph: dict[str, set[str]] = {}
    for module, imports in modules.items():
        if module in PACKAGES:
            continue
        node = graph.setdefault(package_of(module), set())
        node.update(package_of(name) for name in imports if name not in PACKAGES)
    for node, targets in graph.items():
        targets.discard(node)
    return graph


def _before(library: str, stage: str) -> set[str]:
    """The stages that come before ``stage`` in its library's DAG (transitively)."""
    seen, todo = set(), list(STAGES[library][stage])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(STAGES[library][name])
    return seen


def allowed(source: str, target: str) -> bool:
    """Whether package ``source`` may import package ``target`` (both ``library.name``)."""
    src_lib, src = source.split(".")
    dst_lib, dst = target.split(".")
    if src_lib != dst_lib:
        return src_lib == "headgan_model" and dst_lib == "headgan_prep" and dst not in FRONT
    if dst in FRONT:
        return False
    if src in FRONT:
        return True
    if src in BASE[src_lib]:
        return dst in BASE[src_lib]
    return dst in BASE[src_lib] or dst in _before(src_lib, src)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles of a directed graph, one per strongly connected component of more than one node."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(root: Path = ROOT) -> list[str]:
    """Every broken import rule, one line each (empty when the code follows them all)."""
    modules = module_graph(root)
    packages = package_graph(modules)
    problems = []
    for library in PACKAGES:
        known = BASE[library] | set(STAGES[library]) | FRONT
        for node in sorted(p for p in packages if p.startswith(library + ".")):
            if node.split(".")[1] not in known:
                problems.append(f"{node} is in no layer of the import rules (scripts/import_graph.py)")
    for module, imports in sorted(modules.items()):
        for name in sorted(imports):
            source, target = package_of(module), package_of(name)
            if module in PACKAGES or name in PACKAGES or source == target:
                continue
            if not allowed(source, target):
                problems.append(f"{module} imports {name}: {source} may not import {target}")
    for module, names in sorted(external_imports(root).items()):
        for forbidden in FORBIDDEN.get(module.split(".")[0], ()):
            if forbidden in names:
                problems.append(f"{module} imports {forbidden}")
    for cycle in cycles(packages):
        problems.append("package cycle: " + " ↔ ".join(cycle))
    for cycle in cycles(modules):
        problems.append("module cycle: " + " ↔ ".join(cycle))
    return problems


def mermaid(packages: dict[str, set[str]]) -> str:
    """The package graph as a Mermaid flowchart, one subgraph per library, edges sorted."""
    lines = ["```mermaid", "flowchart LR"]
    for library in PACKAGES:
        lines.append(f"  subgraph {library}")
        for node in sorted(p for p in packages if p.startswith(library + ".")):
            lines.append(f"    {node.replace('.', '_')}[{node.split('.')[1]}]")
        lines.append("  end")
    for node in sorted(packages):
        for target in sorted(packages[node]):
            lines.append(f"  {node.replace('.', '_')} --> {target.replace('.', '_')}")
    lines.append("```")
    return "\n".join(lines)


def document_with_graph(text: str, picture: str) -> str:
    """``text`` with the part between the import-graph markers replaced by ``picture``."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{picture}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the picture into docs/architecture.md")
    parser.add_argument("--check", action="store_true", help="fail on broken rules or a stale picture")
    args = parser.parse_args(argv)
    picture = mermaid(package_graph(module_graph()))
    if args.write:
        DOC.write_text(document_with_graph(DOC.read_text(), picture))
    elif args.check:
        problems = violations()
        if document_with_graph(DOC.read_text(), picture) != DOC.read_text():
            problems.append("docs/architecture.md: the import graph is stale; run python scripts/import_graph.py --write")
        print("\n".join(problems) or "import rules hold; the picture is current")
        return 1 if problems else 0
    else:
        print(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
