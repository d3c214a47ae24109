"""format.esc against a CommonMark parser with GitHub's extensions (markdown-it): whatever the text, escaped it is
one paragraph of exactly that text, with no link, image, code, emphasis, HTML or other element. The browser test
(tests/integration/dashboard/test_hostile_values.py) checks the same in Streamlit's own renderer."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from dashboard.format import WORD_JOINER, esc, safe_url

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "![x](http://127.0.0.1:9/pixel.png)",
    "[Session expired - sign in](https://attacker.example/login)",
    "<img src=x onerror=alert(1)>",
    "id`) **bold** `code",
    "[a](javascript:alert(1))",
    "<https://attacker.example>",
    "# heading\n- item\n> quote\n1. one",
    "| a | b |\n|---|---|\n| c | d |",
    "*em* _em_ ~~del~~ \\*",
    "&lt;script&gt; &amp;",
]
# characters Markdown gives a meaning, mixed with letters and line breaks
markdownish = st.lists(st.sampled_from([*"\\`*_{}[]()#+-.!|<>~:$&=^\"' \n\r\tab1/@", "www.", "http://"])).map("".join)


def rendered(text: str) -> str:
    return MARKDOWN.render(esc(text)).strip()


def plain(text: str) -> str:
    """What the text should read as: whitespace runs as one space (as a browser shows them), none at the ends,
    NUL replaced (CommonMark's rule for it)."""
    return re.sub(r"\s+", " ", text).strip().replace("\x00", "\ufffd").replace(WORD_JOINER, "")


@given(st.one_of(markdownish, st.sampled_from(HOSTILE), st.text()))
def test_escaped_text_renders_as_itself_and_nothing_else(text: str) -> None:
    out = rendered(text)
    if not plain(text):
        return  # blank text makes no paragraph at all
    assert out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1, out
    inner = out[3:-4]
    assert "<" not in inner, out  # no element: every < of the text comes out as &lt;
    # the same characters; word joiners (invisible) keep GitHub's autolinks from finding an address
    assert html.unescape(inner).replace(WORD_JOINER, "") == plain(text), (text, out)


def test_the_known_exploits_are_text() -> None:
    for text in HOSTILE:
        out = rendered(text)
        assert "<img" not in out and "<a " not in out and "<code" not in out and "<h1" not in out, out
    assert safe_url("javascript:alert(1)") is None
    assert safe_url(" JAVASCRIPT:alert(1)") is None
    assert safe_url("data:text/html,<script>") is None
    assert safe_url("https://runbooks.example/erp") == "https://runbooks.example/erp"
    assert safe_url(["https://x"]) is None
