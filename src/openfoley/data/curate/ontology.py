"""The AudioSet ontology as a directed acyclic graph: ids, names, children, parents, closures.

Input: the published ``ontology.json`` (a list of nodes with ``id``, ``name``, ``child_ids``,
``restrictions``). The copy shipped in ``openfoley/data/resources/`` is the AudioSet ontology,
CC-BY-SA-4.0 (Gemmeke et al., ICASSP 2017; see ``resources/README.md``).

A node may have several parents (``Growling`` sits under Dog, Cat, Roaring cats and Canidae), so
closures are computed over the DAG, not a tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from openfoley.errors import DataError


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``openfoley/data/resources`` (ontology, class list, mapping table)."""
    p = Path(str(resources.files("openfoley.data").joinpath("resources", name)))
    if not p.is_file():
        raise DataError(f"{p}: packaged resource missing (reinstall openfoley)")
    return p


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    children: tuple[str, ...]
    restrictions: tuple[str, ...]

    @property
    def abstract(self) -> bool:
        """Abstract nodes only group others; AudioSet never uses them as clip labels."""
        return "abstract" in self.restrictions


class Ontology:
    """Lookup and closures over the AudioSet ontology."""

    def __init__(self, nodes: Iterable[Node], source: str = "ontology"):
        self.source = source
        self.nodes: dict[str, Node] = {}
        for n in nodes:
            if n.id in self.nodes:
                raise DataError(f"{source}: duplicate ontology id {n.id!r}")
            self.nodes[n.id] = n
        for n in self.nodes.values():
            for c in n.children:
                if c not in self.nodes:
                    raise DataError(f"{source}: node {n.id} ({n.name}) lists unknown child {c!r}")
        self._by_name = {n.name.lower(): n.id for n in self.nodes.values()}

    @classmethod
    def load(cls, path: str | Path | None = None) -> Ontology:
        """Read ``ontology.json``; ``None`` loads the copy shipped with the package."""
        p = Path(path) if path is not None else resource_path("audioset_ontology.json")
        try:
            raw = json.loads(p.read_text())
        except FileNotFoundError:
            raise DataError(f"{p}: ontology file not found") from None
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(raw, list):
            raise DataError(f"{p}: expected a JSON list of ontology nodes")
        nodes = []
        for i, d in enumerate(raw):
            try:
                nodes.append(Node(d["id"], d["name"], tuple(d.get("child_ids", ())),
                                  tuple(d.get("restrictions", ()))))
            except (KeyError, TypeError):
                raise DataError(f"{p}: node {i} lacks 'id' or 'name'") from None
        return cls(nodes, source=str(p))

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def name(self, node_id: str) -> str:
        return self.nodes[node_id].name

    def by_name(self, name: str) -> str:
        """Id of the node with this display name (case-insensitive; names are unique)."""
        try:
            return self._by_name[name.lower()]
        except KeyError:
            raise DataError(f"{self.source}: no ontology node named {name!r}") from None

    @cached_property
    def parents(self) -> dict[str, tuple[str, ...]]:
        acc: dict[str, list[str]] = {i: [] for i in self.nodes}
        for n in self.nodes.values():
            for c in n.children:
                acc[c].append(n.id)
        return {k: tuple(v) for k, v in acc.items()}

    def descendants(self, ids: Iterable[str], include_self: bool = True) -> set[str]:
        """All nodes reachable through ``child_ids`` from ``ids``."""
        return self._closure(ids, lambda i: self.nodes[i].children, include_self)

    def ancestors(self, ids: Iterable[str], include_self: bool = False) -> set[str]:
        """All nodes from which ``ids`` are reachable (every parent path, up to the roots)."""
        return self._closure(ids, lambda i: self.parents[i], include_self)

    def depth(self, node_id: str) -> int:
        """Length of the longest path from a root (roots have depth 0)."""
        ps = self.parents[node_id]
        return 0 if not ps else 1 + max(self.depth(p) for p in ps)

    def _closure(self, ids: Iterable[str], step, include_self: bool) -> set[str]:
        start = list(ids)
        for i in start:
            if i not in self.nodes:
                raise DataError(f"{self.source}: unknown ontology id {i!r}")
        seen: set[str] = set(start) if include_self else set()
        stack = list(start)
        while stack:
            for j in step(stack.pop()):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return seen
