"""README and docs/: every relative link resolves (file and heading anchor), and README stays a front door."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (word characters, '-' and spaces kept), spaces
    to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, fence = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"#{1,6} (.*)", line)):
            found.add(slug(m.group(1)))
    return found


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    return [t for _, t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_slug_matches_githubs_anchors():
    assert slug("Churn on Spark MLlib (`sparkify_churn_daily`, `telco_churn_weekly`)") == (
        "churn-on-spark-mllib-sparkify_churn_daily-telco_churn_weekly"
    )
    assert slug("A daily run's Spark time: fixed vs per row") == "a-daily-runs-spark-time-fixed-vs-per-row"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert relative_links(page) or page.name != "README.md", "README links to docs/"
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.relative_to(ROOT)}: link {target} names a file that does not exist"
        if fragment:
            assert dest.suffix == ".md", f"{page.relative_to(ROOT)}: anchor {target} into a file that is not Markdown"
            assert fragment in anchors(dest), f"{page.relative_to(ROOT)}: {target} names no heading of {dest.name}"


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [anchor](#nowhere) [web](https://example.org)\n")
    links = relative_links(page)
    assert links == ["#title", "missing.md", "#nowhere"]
    assert "title" in anchors(page)
    assert "nowhere" not in anchors(page)
    assert not (tmp_path / "missing.md").exists()


def test_readme_is_a_front_door_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300, "README: what it is, the two commands, the map; details go to docs/"
    assert "make demo" in readme
    assert "make test" in readme
    linked = {Path(t.partition("#")[0]).name for t in relative_links(ROOT / "README.md")}
    missing = {p.name for p in (ROOT / "docs").glob("*.md")} - linked
    assert not missing, f"README links no docs page named {sorted(missing)}"
