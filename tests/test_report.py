"""The report: self-contained, answer first, every value escaped."""
import html
import re
import sqlite3

from conftest import make_db

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


# ---- another app's file and the statement it failed on (Part 11) ------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

SHOP = """
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE);
CREATE TABLE "order lines" (order_id INTEGER REFERENCES orders(id) ON DELETE CASCADE
                              DEFERRABLE INITIALLY DEFERRED, sku TEXT, PRIMARY KEY (order_id, sku)) WITHOUT ROWID;
CREATE INDEX orders_customer ON orders(customer_id);
INSERT INTO customers VALUES ('ALFKI', 'Alfreds'), ('BONAP', 'Bon app');
INSERT INTO orders VALUES (1, 'ALFKI'), (2, 'BONAP');
INSERT INTO "order lines" VALUES (1, 'A-1'), (2, 'B-2');
"""
BREAKS = "BEGIN;\nINSERT INTO orders (id, customer_id) VALUES (3, 'alfki ');\nCOMMIT;"


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    make_db(path, SHOP)
    return path


def run(*args):
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True)


def section(page: str, start: str, end: str = "<h2") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def test_a_statement_that_breaks_a_reference_is_named_by_table_row_and_reason(shop):
    before = fingerprint(shop)
    report = build_report(shop, sql=BREAKS)
    page = report.render()
    assert fingerprint(shop) == before and report.migration is None
    assert html.unescape(page.split('id="answer">', 1)[1].split("</p>", 1)[0]) == report.diagnosis.answer
    assert page.index('id="answer"') < page.index('id="statement"') < page.index('id="broken-references"') \
        < page.index("<h2>Findings")
    part = html.unescape(section(page, 'id="statement"'))
    assert BREAKS in part and "it fails at statement 2:" in part
    assert "INSERT INTO orders (id, customer_id) VALUES (3, 'alfki ')</pre>" in part
    (row,) = re.findall(r"<tr><td>(.*?)</td><td><code>(.*?)</code></td><td><code>(.*?)</code></td><td>(.*?)</td>\s*"
                        r'<td class="bad">(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td></tr>',
                        section(page, 'id="broken-references"', "</table>"))
    (v,) = report.diagnosis.statement_simulation.violations
    assert [html.unescape(c) for c in row] == [
        "orders", "3", "customer_id = 'alfki ' (text)", "customers(id)", "near-miss", v.explanation,
        "ON DELETE CASCADE / ON UPDATE NO ACTION", "no", "statement 2"]
    # another app's file: nothing about the video app or its migration
    assert not re.search(r"migration|\b030\b|veo3|upscale", page, re.IGNORECASE)


def test_a_deferred_key_fails_at_commit_and_orphans_already_there_are_counted_apart(shop):
    conn = sqlite3.connect(shop)
    conn.execute("INSERT INTO \"order lines\" VALUES (99, 'OLD')")  # an orphan from before (foreign keys off)
    conn.commit()
    conn.close()
    report = build_report(shop, sql="BEGIN; DELETE FROM orders WHERE id = 7; "
                                    "INSERT INTO \"order lines\" VALUES (7, 'Z-9'); COMMIT;", sql_source="app.log")
    page = html.unescape(report.render())
    assert "As given (app.log)" in page and "it fails at COMMIT (statement 4)." in page
    assert 'id="failed-statement"' not in page  # COMMIT itself is not the statement at fault
    row = section(page, 'id="broken-references"', "</table>").split("</tr>")[1]
    assert "order lines" in row and "7, 'Z-9'" in row and "<td>yes</td>" in row and "<td>COMMIT</td>" in row
    assert "missing-row" in row and "(not their doing, counted apart):\n 1 (order lines: 1)." in page
    md = report.render("md")
    assert "| order lines | 7, 'Z-9' |" in md and "| yes | COMMIT |" in md
    assert "counted apart): 1 (order lines: 1)" in md


def test_the_error_message_gets_its_own_section(shop):
    report = build_report(shop, error_message="FOREIGN KEY constraint failed")
    page = html.unescape(report.render())
    assert report.diagnosis.statement_simulation is None and 'id="statement"' not in page
    answer = section(page, 'id="error-answer">', "</p>")
    assert answer == report.error_sentence and "2 declaration(s)" in answer
    assert page.count("<tr><td><code>") == 2 and "orders(customer_id) REFERENCES customers(id)" in page
    md = report.render("md")
    assert "## The error message\n\n```\nFOREIGN KEY constraint failed\n```" in md
    assert "- orders(customer_id) REFERENCES customers(id), ON DELETE CASCADE ON UPDATE NO ACTION" in md


def test_a_hostile_table_name_and_statement_are_escaped_in_both_formats(tmp_path):
    path = tmp_path / "evil.db"
    evil = "<script>alert(1)</script>"
    make_db(path, f'CREATE TABLE parent (id INTEGER PRIMARY KEY);'
                  f'CREATE TABLE "{evil}" (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id));')
    sql = f"INSERT INTO \"{evil}\" VALUES (1, 42) /* </pre><script>alert(2)</script> ``` */"
    report = build_report(path, sql=sql, error_message=f"no such table: main.{evil}")
    page = report.render()
    assert "<script" not in page.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    (v,) = report.diagnosis.statement_simulation.violations
    assert v.table == evil and v.reason == "missing-row"
    assert sql in html.unescape(page)  # the statement as given, whole
    md = report.render("md")
    fenced = re.findall(r"^(`{3,})\w*\n.*?\n\1$", md, re.MULTILINE | re.DOTALL)
    assert "````" in fenced  # the statement's own ``` cannot close its block
    outside = re.sub(r"^(`{3,})\w*\n.*?\n\1$", "", md, flags=re.MULTILINE | re.DOTALL)
    assert "<script" not in outside and "&lt;script&gt;" in outside


def test_report_command_takes_sql_sql_file_and_error(shop, tmp_path):
    before = fingerprint(shop)
    result = run("report", shop, "--out", tmp_path / "r.md", "--format", "md", "--sql", BREAKS,
                 "--error", "FOREIGN KEY constraint failed")
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "r.md").read_text()
    assert "## The failing statement" in md and "near-miss" in md and "## The error message" in md
    script = tmp_path / "app.sql"
    script.write_text(BREAKS)
    result = run("report", shop, "--out", tmp_path / "r.html", "--sql-file", script)
    page = (tmp_path / "r.html").read_text()
    assert result.returncode == 0 and f"As given (--sql-file {script})" in page and "near-miss" in page
    both = run("report", shop, "--out", tmp_path / "x.html", "--sql", BREAKS, "--sql-file", script)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    assert fingerprint(shop) == before and not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("args", [("--sql", "ATTACH 'other.db' AS o"), ("--sql", "INSERT INTO orders VALUES ("),
                                  ("--sql-file", "missing.sql")])
def test_report_command_refuses_a_bad_statement_in_one_sentence_and_writes_nothing(shop, tmp_path, args):
    before = fingerprint(shop)
    result = run("report", shop, "--out", tmp_path / "r.html", *args)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists() and not list(tmp_path.glob(".report-*"))
    assert fingerprint(shop) == before and not (tmp_path / "other.db").exists()
