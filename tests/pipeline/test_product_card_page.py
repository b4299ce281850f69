"""The product card's HTML page: mistune's HTML kept as is, the title escaped (no pipeline run)."""

from __future__ import annotations

from pathlib import Path

from assets.published.product_card import _html_page, write_card

CARD = """# customer-overview-dp 1.0.0+2

- **Owner:** Customer Data Platform team <cdp@bank.example>

| output | rows |
|---|---|
| customer_overview | 1,239 |
"""


def test_write_card_writes_the_markdown_and_a_self_contained_page(tmp_path: Path) -> None:
    markdown_path, html_path = write_card(CARD, tmp_path, "1.0.0+2")
    assert (markdown_path, html_path) == (
        tmp_path / "product_card.md",
        tmp_path / "product_card.html",
    )
    assert (tmp_path / "product_card_1.0.0_2.md").read_text(encoding="utf-8") == CARD
    page = html_path.read_text(encoding="utf-8")
    assert page == (tmp_path / "product_card_1.0.0_2.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>\n") and page.endswith("</body></html>\n")
    assert "<title>customer-overview-dp 1.0.0+2</title>" in page
    # mistune's HTML goes in as HTML, not as escaped text.
    assert "<h1>customer-overview-dp 1.0.0+2</h1>" in page
    assert "<td>customer_overview</td>" in page and "<strong>Owner:</strong>" in page
    assert "&lt;h1&gt;" not in page
    assert "max-width: 70rem" in page  # the inline CSS
    for external in ("http://", "https://", "<script", "<link"):
        assert external not in page


def test_the_title_is_escaped_and_the_body_is_not() -> None:
    page = _html_page("A <b>&</b>", "<p>already <em>HTML</em> &amp; kept</p>")
    assert "<title>A &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    assert "<p>already <em>HTML</em> &amp; kept</p>" in page
