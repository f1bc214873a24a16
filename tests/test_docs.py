"""The README stays short and every link in it and in docs/ leads somewhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    heads = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_readme_reads_in_five_minutes():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n < 200, f"README.md has {n} lines; move details to a docs/ page and link it"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


def test_the_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme]
    assert not missing, f"README.md does not link {missing}"


def test_the_own_agent_snippet_in_docs_api_runs():
    from driftrec.agents.registry import _REGISTRY

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"## Your own agents.*?```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    try:
        exec(compile(block, "docs/api.md", "exec"), scope)
        assert scope["agent"].alpha == 0.02
    finally:
        _REGISTRY.pop("very-slow", None)


def test_the_sequential_snippet_in_docs_api_runs():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    block = re.search(r"## Sequential off-policy estimates.*?```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(block, "docs/api.md", "exec"), scope)
    est = {e.estimator: e for e in scope["estimates"]}
    assert set(est) == {"snpdis", "dr"} and all(e.low < e.high for e in est.values())
    assert 1 <= est["dr"].ess <= est["dr"].n and est["dr"].horizon == 10
