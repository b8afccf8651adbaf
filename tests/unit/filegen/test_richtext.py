"""The safe HTML subset becomes Word structure built by python-docx, never raw XML."""
from __future__ import annotations

from lxml import etree

from services.filegen.richtext import HtmlFragment

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _block(html: str) -> etree._Element:
    # Wrap the fragment the way it lands in a document body.
    xml = HtmlFragment(html).block_xml()
    return etree.fromstring(f'<w:body xmlns:w="{W[1:-1]}">{xml}</w:body>')


def _texts(body: etree._Element) -> list[str]:
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in body.findall(f"{W}p")]


def test_paragraphs_breaks_and_formatting():
    body = _block("<p>甲<b>乙<i>丙</i></b><u>丁</u><br>戊</p><p>第二段</p>")
    assert _texts(body) == ["甲乙丙丁戊", "第二段"]
    runs = body.findall(f"{W}p")[0].findall(f"{W}r")
    formats = [(r.find(f"{W}rPr/{W}b") is not None, r.find(f"{W}rPr/{W}i") is not None, r.find(f"{W}rPr/{W}u") is not None) for r in runs]
    assert formats[:4] == [(False, False, False), (True, False, False), (True, True, False), (False, False, True)]
    assert runs[4].find(f"{W}br") is not None


def test_strong_and_em_are_bold_and_italic():
    body = _block("<strong>粗</strong><em>斜</em>")
    runs = body.find(f"{W}p").findall(f"{W}r")
    assert runs[0].find(f"{W}rPr/{W}b") is not None and runs[1].find(f"{W}rPr/{W}i") is not None


def test_lists_are_numbered_and_indented():
    fragment = HtmlFragment("<ol><li>一</li><li>二<ul><li>甲</li></ul></li></ol><ul><li>独立</li></ul>")
    assert fragment.text().split("\n") == ["1.\t一", "2.\t二", "•\t甲", "•\t独立"]
    body = _block("<ol><li>一</li><li>二<ul><li>甲</li></ul></li></ol>")
    lefts = [int(p.find(f"{W}pPr/{W}ind").get(f"{W}left")) for p in body.findall(f"{W}p")]
    assert lefts[0] == lefts[1] < lefts[2]


def test_tables_are_real_tables_with_a_paragraph_after():
    body = _block("<table><thead><tr><th>项目</th><th>金额</th></tr></thead><tbody><tr><td>本金</td></tr></tbody></table>")
    table = body.find(f"{W}tbl")
    rows = table.findall(f"{W}tr")
    assert [["".join(t.text for t in tc.iter(f"{W}t")) for tc in tr.findall(f"{W}tc")] for tr in rows] == [
        ["项目", "金额"],
        ["本金", ""],  # short rows are padded so the grid stays rectangular
    ]
    assert rows[0].find(f"{W}trPr/{W}tblHeader") is not None
    assert all(tc.find(f"{W}p") is not None for tc in table.iter(f"{W}tc"))  # Word needs one per cell
    assert body[-1].tag == f"{W}p"  # a table may not end a cell or a body


def test_nested_tables_are_flattened_into_the_cell():
    body = _block("<table><tr><td>外<table><tr><td>内</td></tr></table></td></tr></table>")
    assert len(list(body.iter(f"{W}tbl"))) == 1
    assert "内" in "".join(t.text for t in body.iter(f"{W}t"))


def test_unknown_tags_become_text_and_attributes_are_ignored():
    fragment = HtmlFragment(
        '<div class="x"><span style="color:red" onclick="evil()">文字</span></div>'
        "<h1>标题</h1><a href='javascript:alert(1)'>链接</a><font face=x>字体</font>"
    )
    assert fragment.text().split("\n") == ["文字", "标题", "链接字体"]
    xml = fragment.block_xml()
    assert "evil" not in xml and "javascript" not in xml and "color" not in xml


def test_script_and_style_lose_their_text():
    assert HtmlFragment("<p>保留<script>alert(1)</script><style>p{color:red}</style></p>").text() == "保留"


def test_markup_in_text_stays_text():
    fragment = HtmlFragment("<p>&lt;w:p&gt;&lt;/w:t&gt; &amp; 1 &lt; 2</p><w:r><w:t>tag</w:t></w:r>")
    assert fragment.text().split("\n") == ["<w:p></w:t> & 1 < 2", "tag"]
    body = _block("<p>&lt;w:p&gt;</p>")
    assert len(body.findall(f"{W}p")) == 1
    assert _texts(body) == ["<w:p>"]


def test_whitespace_collapses_like_html():
    assert HtmlFragment("<p>\n   甲   乙\n\t</p>\n\n<p>  丙</p>").text() == "甲 乙\n丙"


def test_empty_fragment_is_one_empty_paragraph():
    body = _block("")
    assert len(body.findall(f"{W}p")) == 1


def test_inline_form_closes_and_reopens_the_current_run():
    xml = HtmlFragment("<p>一</p><p><b>二</b></p>").inline_xml()
    assert xml.startswith("</w:t></w:r>") and xml.endswith('<w:r><w:t xml:space="preserve">')
    wrapped = f'<w:p xmlns:w="{W[1:-1]}"><w:r><w:t>前{xml}后</w:t></w:r></w:p>'
    paragraph = etree.fromstring(wrapped)
    assert "".join(t.text or "" for t in paragraph.iter(f"{W}t")) == "前一二后"
    assert len(list(paragraph.iter(f"{W}br"))) == 1


def test_pretty_printed_html_tables_and_lists():
    html = """
    <table>
      <tr>
        <td>甲</td>
        <td>乙</td>
      </tr>
    </table>
    <ul>
      <li>一</li>
    </ul>
    """
    body = _block(html)
    rows = body.find(f"{W}tbl").findall(f"{W}tr")
    assert [len(r.findall(f"{W}tc")) for r in rows] == [2]
    assert HtmlFragment(html).text().split("\n") == ["甲\t乙", "•\t一"]


def test_control_characters_are_dropped():
    assert HtmlFragment("<p>甲\x00\x0b乙\x1b</p>").text() == "甲乙"


def test_editor_style_list_items_with_paragraphs():
    html = "<ul><li><p>第一项</p><p>补充说明</p></li><li><p>第二项</p></li></ul><p>正文</p>"
    assert HtmlFragment(html).text().split("\n") == ["•\t第一项", "补充说明", "•\t第二项", "正文"]
    body = _block(html)
    indents = [p.find(f"{W}pPr/{W}ind") for p in body.findall(f"{W}p")]
    assert indents[1] is not None and indents[1].get(f"{W}left") == indents[0].get(f"{W}left")
    assert indents[1].get(f"{W}hanging") is None and indents[0].get(f"{W}hanging") is not None
    assert indents[3] is None  # back to body text after the list
