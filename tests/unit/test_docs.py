"""Docs kept true by the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from syncwatch.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`SYNCWATCH_{name.upper()}`" not in text]
    assert missing == []
    assert all(field.description for field in Settings.model_fields.values())


def test_every_rejection_reason_is_documented() -> None:
    text = (DOCS / "events.md").read_text()
    code = (Path(__file__).resolve().parents[2] / "collector").glob("*.py")
    # comment lines left out: collector/telemetry.py names the pattern itself, `Rejection("reason", ...)`
    source = "".join(line for p in code for line in p.read_text().splitlines(True) if not line.lstrip().startswith("#"))
    reasons = set(re.findall(r'Rejection\(\s*"([a-z_0-9]+)"', source))
    assert len(reasons) >= 12
    assert sorted(r for r in reasons if f"`{r}`" not in text) == []


README = DOCS.parent / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# How work on SyncWatch was organised is for commit bodies; pages speak of the product and its users (a user's
# console session is product vocabulary, "the fourth session" or "issue 4" is not).
WORK_LOG = re.compile(
    r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th)|this|previous|earlier)"
    r"\s+sessions?\b|\bsession\s+\d+|\bissues?\s+#?\d+|\(#\d+\)",
    re.IGNORECASE,
)


def _prose(path: Path) -> str:
    return FENCE.sub("", path.read_text())


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _prose(path), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def test_docs_speak_of_the_product_not_of_work_sessions_or_issues() -> None:
    found = [f"{page.name}: {match.group(0)!r}" for page in PAGES for match in WORK_LOG.finditer(page.read_text())]
    assert found == []


def test_every_relative_link_reaches_a_file_and_heading() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(_prose(page)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
