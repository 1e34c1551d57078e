"""Every page of the server has a name, and everything that links to one says the name: Python
calls reverse(), templates {% url %}. The paths themselves are an interface: a push carries the
alert's, a printed badge the finder's, a wall screen its own; they are pinned here."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from community_world import World

COMMUNITY = Path(__file__).resolve().parents[2] / "community"
PAGES = ("/console", "/wall", "/family", "/reports", "/f/")
# a path kept as data (where a one-time login link lands, any page of the server), not a link built
DATA = {("models/people.py", "/console"), ("tools/tokens.py", "/console")}
# (name, arguments) -> the path other tools rely on
PINNED = {
    ("alert", ("r-1",)): "/console/alerts/r-1",  # in every push
    ("finder", ("ABC123",)): "/f/ABC123",  # printed on the anti-lost badge
    ("wall", ()): "/wall",  # typed into a wall screen once, with its key
    ("login-link", ("s3cret",)): "/console/link/s3cret",  # sent by chat
    ("console", ()): "/console",
    ("login", ()): "/console/login",
    ("resident", (7,)): "/console/residents/7",
    ("family", ()): "/family",
    ("reports", ()): "/reports",
    ("wall-events", ()): "/wall/events",
}


def test_every_page_has_a_name_and_the_pinned_paths_hold(django_cfg: Any) -> None:
    from django.urls import URLPattern, reverse

    from eldergate.community import urls

    unnamed = [str(p.pattern) for p in urls.urlpatterns if isinstance(p, URLPattern) and not p.name
               and not str(p.pattern).startswith("^static/")]
    assert unnamed == []
    for (name, args), path in PINNED.items():
        assert reverse(name, args=args) == path


def test_no_template_writes_a_page_path_by_hand() -> None:
    by_hand = re.compile(r'(href|action|src)="/(?!/)|["\'](' + "|".join(re.escape(p) for p in PAGES) + r')')
    found = [f"{p.relative_to(COMMUNITY)}:{n}: {line.strip()[:100]}"
             for p in sorted(COMMUNITY.rglob("templates/**/*.html"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if by_hand.search(line)]
    assert found == []


def test_no_python_module_writes_a_page_path_by_hand() -> None:
    """String constants (docstrings aside) that begin with a page's path: reverse() them instead."""
    found = []
    for p in sorted(COMMUNITY.rglob("*.py")):
        if "migrations" in p.parts or p.name == "urls.py":
            continue
        tree = ast.parse(p.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and node.value.startswith(PAGES) and (str(p.relative_to(COMMUNITY)), node.value) not in DATA:
                found.append(f"{p.relative_to(COMMUNITY)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_a_visit_forms_way_back_stays_on_this_server(world: World) -> None:
    """The visit list sends its own page as "back"; a forged form must not send a worker elsewhere."""
    from django.test import Client

    c = Client()
    c.force_login(world.sides["kz"].users["grid-worker"])
    pk = world.sides["kz"].resident.pk
    assert c.post(f"/console/residents/{pk}/visit", {"back": "/console/visits"})["Location"] == "/console/visits"
    for forged in ("https://elsewhere.example/x", "//elsewhere.example/x", "javascript:alert(1)"):
        r = c.post(f"/console/residents/{pk}/visit", {"back": forged})
        assert r.status_code == 302 and r["Location"] == f"/console/residents/{pk}", forged
