"""No string from data, plans, settings or file names is ever compiled as a template.

branca/folium compile the text of ``Element(text)`` as Jinja2 source; geo5g puts every
piece of its own HTML into the page as a *value* of a fixed template instead. These
tests feed template syntax (and HTML/JS) through every field that reaches the page and
check that it comes out literally, that nothing is evaluated, and that a payload that
would create a file creates nothing.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import report_parts

from geo5g.render import render_html
from geo5g.report import Provenance, build_report

PAYLOADS = [
    "{{7*7}}",
    "{{ 7 * 7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{# a comment #}",
    "{% raw %}{{ x }}{% endraw %}",
    "{%",
    "{{",
    "{#",
    "}}{{",
    "{{ this.__class__.__mro__ }}",
    "<script>alert('{{7*7}}')</script>",
]


def _page_with(text: str, marker_file: Path | None = None) -> str:
    parts = report_parts()
    parts["title"] = f"title {text}"
    cities = parts["cities"].copy()
    cities["name_zh"] = [f"城市{text}", "无锡市", "常州市", text]
    parts["cities"] = cities
    density = parts["city_density"].copy()
    density["name_zh"] = cities["name_zh"].to_numpy()
    density["name_en"] = [f"en {text}", "Wuxi", "", "Changzhou"]
    parts["city_density"] = density
    parts["ports"] = parts["ports"].assign(name=[text, "港", "镇江港"])
    parts["roads_gaps"] = parts["roads_gaps"].assign(ref=text, name=text)
    parts["scorecard"] = parts["scorecard"].assign(description=text, note=text, section=text)
    path = f"/data/{text}/sites.csv" if marker_file is None else str(marker_file)
    parts["provenance"] = [Provenance("sites", path, "real", f"note {text}")]
    parts["notes"] = [f"note {text}"]
    parts["plan"] = {"id": f"plan{text}", "name": f"plan name {text}"}
    return render_html(build_report(**parts))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_syntax_is_shown_literally(payload):
    page = _page_with(payload)
    escaped = html.escape(payload, quote=True)
    # the panel (title, scorecard, provenance, notes) shows the text as it is
    assert page.count(escaped) >= 5, payload
    if "7*7" in payload.replace(" ", ""):
        # nowhere the payload went did it become its value
        for prefix in ("title ", "note ", "城市", "en ", "plan name ", "plan"):
            assert f"{prefix}49" not in page, prefix
    assert "loop" * 3 not in page


def test_a_payload_that_would_write_a_file_writes_nothing(tmp_path):
    target = tmp_path / "pwned"
    payload = (
        "{{ self.__init__.__globals__.__builtins__.open('" + str(target) + "', 'w').write('x') }}"
        "{{ cycler.__init__.__globals__.os.system('touch " + str(target) + "') }}"
    )
    page = _page_with(payload, marker_file=Path(f"/srv/{payload}.csv"))
    assert not target.exists()
    assert html.escape(payload, quote=True) in page


def _panel_texts(page: str) -> list[str]:
    """Unescaped text of every table cell and list item of the side panel."""
    panel = page.split('<aside class="geo5g-panel"', 1)[1].split("</aside>", 1)[0]
    cells = re.findall(r"<(?:td|li|h1|p)[^>]*>(.*?)</(?:td|li|h1|p)>", panel, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells]


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda t: t.strip() == t and "\n" not in t))
def test_any_unicode_name_renders_and_round_trips(name):
    page = _page_with(name)
    texts = _panel_texts(page)
    assert f"title {name}" in texts
    assert any(t.startswith(f"note {name}") for t in texts)


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_chromium_shows_the_payloads_as_text(tmp_path):
    from test_browser import _dom

    payload = "{{7*7}}<img src=x onerror=alert(1)>{% raw %}"
    page = tmp_path / "index.html"
    page.write_text(_page_with(payload), encoding="utf-8")
    dom = _dom(tmp_path, page)
    assert 'data-geo5g-ready="1"' in dom  # the scripts ran to their end
    assert html.escape(payload, quote=False) in dom  # the panel's text, as text
    assert "<img src=x" not in dom
