"""The report: self-contained, answer first, every value escaped."""
import html
import re
import sqlite3

from toolkit.report import build_report, write_report
from toolkit.safe_access import fingerprint


def test_html_report_is_self_contained_with_the_answer_first(sample, tmp_path):
    path = sample("v26_seed_failure.db")
    before = fingerprint(path)
    out = write_report(path, tmp_path / "report.html")
    html = out.read_text()
    assert fingerprint(path) == before
    assert html.index('id="answer"') < html.index('id="findings"') < html.index('id="side-by-side"') \
        < html.index('id="proof"') < html.index('id="sql"')
    assert "The insert fails because project_id" in html
    assert "<script" not in html.lower() and not re.search(r"(src|href)=\"?https?:", html)
    assert "UPDATE sqlite_schema SET sql" in html and "✘" not in html  # the fix's script, shown
    assert not list(tmp_path.glob(".report-*"))


def test_values_from_the_customer_file_are_escaped(sample, tmp_path):
    path = sample("v26_seed_failure.db")
    conn = sqlite3.connect(path)
    evil = "<script>alert('x')</script>&<b>"
    conn.execute("UPDATE veo3_video_generations SET project_id = ? WHERE created_at = "
                 "(SELECT max(created_at) FROM veo3_video_generations)", (evil,))
    conn.commit()
    conn.close()
    html = write_report(path, tmp_path / "r.html").read_text()
    assert evil not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&lt;b&gt;" in html
    md = write_report(path, tmp_path / "r.md", fmt="md").read_text()
    assert "<script>" not in md and md.startswith("# Foreign-key diagnosis")


def test_report_for_a_fixed_file_and_another_apps_file(sample):
    fixed = build_report(sample("v30_fixed.db"))
    assert fixed.migration.skipped and "nothing to do" in fixed.render()
    other = build_report(sample("other_app.db"))
    assert other.migration is None and "other_app.db is healthy" in other.render("md")


def test_both_formats_show_exactly_the_proofs_own_list(sample):
    report = build_report(sample("v26_seed_failure.db"))
    expected = report.migration.proof.lines()
    assert len(expected) == 8
    table = report.render("html").split('<table id="proof">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<td class="(good|bad)">(.)</td><td>(.*?)</td>', table)
    assert [(html.unescape(label), cls == "good" and mark == "✔") for cls, mark, label in rows] == expected
    md = report.render("md").split("Proof:\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert md == [f"- {'✔' if ok else '✘'} {label.replace('>', '&gt;')}" for label, ok in expected]


def test_templates_are_files_beside_the_package_and_html_alone_is_escaped(sample):
    from pathlib import Path

    import toolkit.report as report_module
    from toolkit.report import TEMPLATES, Format, _templates

    folder = Path(report_module.__file__).parent / "templates"
    assert [f.value for f in Format] == ["html", "md"]
    assert {f: (folder / name).is_file() for f, name in TEMPLATES.items()} == {Format.HTML: True, Format.MD: True}
    assert "<!doctype" not in Path(report_module.__file__).read_text().lower()  # no page in a Python string
    env = _templates()
    html_t, md_t = (env.get_template(TEMPLATES[f]) for f in Format)
    assert html_t.filename == str(folder / "report.html.j2") and md_t.filename == str(folder / "report.md.j2")
    r = build_report(sample("v30_fixed.db"))
    assert r.render(Format.HTML).startswith("<!doctype html>") and r.render("md").startswith("# Foreign-key diagnosis")
    # autoescape by file name: on for .html.j2, off for .md.j2 (Markdown escapes its cells itself)
    assert html_t.environment.autoescape("report.html.j2") and not md_t.environment.autoescape("report.md.j2")
