"""A real browser: JupyterLab and the triage app, driven in Debian's headless Chromium.

Servers start on 127.0.0.1 on a free port with a token, are polled until they answer, and
are stopped afterwards.  Screenshots of every step go to $TOOLKIT_TEST_OUT/screenshots/ (printed).
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import REPO, make_db, output_folder
from toolkit.diagnosis import diagnose
from toolkit.samples import HEADLINE, SAMPLES_DIR
from toolkit.serve import lab_command, lab_environment, voila_command

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = output_folder() / "screenshots"
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_NOTEBOOKS = {"01_inspect_schema.ipynb", "02_reproduce_and_diagnose.ipynb", "03_apply_030_and_compare.ipynb"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not answer {url} in {timeout} s: {log.read_text()[-2000:]}")


def start(cmd: list[str], url: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "w") as out:  # the child holds its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                cwd=REPO)
    try:
        wait_until_up(url, proc, log)
    except BaseException:
        proc.terminate()
        proc.wait(10)
        raise
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: the browser tests need Debian's chromium (.ci/system-deps chromium installs it)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nScreenshots: {SHOTS}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of notebooks/ (running cells marks them changed)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), secrets.token_hex(16)
    proc = start(lab_command(port, root_dir=root / "notebooks", token=token),
                 f"http://127.0.0.1:{port}/api/status?token={token}", root / "lab.log",
                 env=lab_environment(tmp_path_factory.mktemp("jupyter-env")))
    yield f"http://127.0.0.1:{port}", token
    stop(proc)


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    proc = start(voila_command(port, token=token), f"http://127.0.0.1:{port}/?token={token}", log)
    yield f"http://127.0.0.1:{port}/?token={token}"
    stop(proc)


def upload(page, path: Path) -> None:
    """Choose a file through the FileUpload button, as a person does (its <input> is not in the page)."""
    button = page.locator(".widget-upload").first
    button.wait_for(timeout=60_000)
    with page.expect_file_chooser() as chooser:
        button.click()
    chooser.value.set_files(str(path))


def assert_label_fits(button) -> None:
    """The button shows its whole label: ipywidgets cuts a long one with an ellipsis (overflow hidden)."""
    sizes = button.evaluate("b => [b.scrollWidth, b.clientWidth, b.innerText]")
    assert sizes[0] <= sizes[1], f"the label {sizes[2]!r} is cut: {sizes[0]} px of text in {sizes[1]} px"


def shot(page, name: str) -> None:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def run_all_cells(page, base: str, token: str, name: str) -> None:
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    # done when no prompt is pending ([*]) or unrun ([ ]) and the kernel is idle
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        settled = bool(prompts) and all(p.strip() not in ("[*]:", "[ ]:", "") for p in prompts)
        if settled and page.locator("#jp-main-statusbar").get_by_text("Idle").count():
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{name}: cells did not finish: {prompts}")


def assert_no_errors(page, name: str) -> None:
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    problems = [t for t in stderr if "Traceback" in t or "Error" in t]
    assert not problems, f"{name}: error output: {problems[0][:500]}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab_with_widgets_rendered(browser, lab, name):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        run_all_cells(page, base, token, name)
        assert_no_errors(page, name)
        if name in WIDGET_NOTEBOOKS:
            page.locator(".jupyter-widgets.widget-dropdown select").first.wait_for(timeout=30_000)
            assert_label_fits(page.locator(".widget-upload").first)
            text = page.locator(".jp-Notebook").inner_text()
            assert "Error displaying widget" not in text and "Loading widget" not in text
            assert "Explorer(children=" not in text  # the text fallback a missing widget manager shows
        shot(page, f"lab-{Path(name).stem}")
        if name[:3] in ("01_", "02_", "03_"):  # the reference diagrams render inline as SVG
            boxes = page.locator(".jp-OutputArea-output svg g.node.table")
            boxes.first.wait_for(state="attached", timeout=30_000)
            assert boxes.count() >= 4
        if name.startswith("02_"):
            red = page.locator(".jp-OutputArea-output svg g.fk.failing")
            expect(red).to_have_count(1, timeout=30_000)
            assert "project_id" in red.first.text_content()
            page.locator(".widget-dropdown select").first.select_option(HEADLINE)
            page.get_by_role("button", name="Simulate insert").click()
            table = page.locator('table[data-fk="references"]')
            table.wait_for(timeout=30_000)
            failing = [row for row in table.locator("tbody tr").all_inner_texts() if "missing-row" in row]
            assert len(failing) == 1 and failing[0].startswith("project_id")
            assert "The insert fails because project_id" in page.locator('[data-fk="answer"]').last.inner_text()
            table.scroll_into_view_if_needed()  # the notebook scrolls inside its panel, not the page
            shot(page, "lab-02-simulated")
        if name.startswith("03_"):
            page.get_by_role("button", name="Apply migration 030 to a copy").click()
            after = page.locator('table[data-fk="after"]')
            after.wait_for(timeout=60_000)
            rows = dict(r.split("\t", 1) for r in after.locator("tbody tr").all_inner_texts())
            for column in ("source_generation_id", "profile_id", "project_id"):
                assert rows[column].strip() == "TEXT", rows[column]
            assert "NOT NULL" in rows["status"]
            after.scroll_into_view_if_needed()
            shot(page, "lab-03-applied")
    finally:
        page.close()


def test_triage_app_upload_answer_fix_and_download(browser, voila, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
    try:
        page.goto(voila)
        page.locator(".widget-upload").first.wait_for(timeout=60_000)
        shot(page, "app-1-empty")
        assert_label_fits(page.locator(".widget-upload").first)
        upload(page, SAMPLES_DIR / HEADLINE)
        answer = page.locator('[data-fk="answer"]').first
        answer.wait_for(timeout=60_000)
        assert answer.inner_text().startswith("The insert fails because project_id")
        page.locator('table[data-fk="findings"]').wait_for(timeout=30_000)
        assert "fk-constraints-present" in page.locator('table[data-fk="findings"]').inner_text()
        red = page.locator(".fk-diagram-box svg g.fk.failing")
        expect(red).to_have_count(1, timeout=30_000)
        assert "project_id" in red.text_content()
        shot(page, "app-2-answer")
        page.get_by_role("button", name="Apply migration 030 to a copy").click()
        link = page.locator("#fk-download-fixed")
        link.wait_for(timeout=60_000)
        sides = page.locator(".fk-diagram-pair figure")
        expect(sides).to_have_count(2, timeout=30_000)
        drawn = [sides.nth(i).locator("g.fk").count() for i in range(2)]
        assert sides.count() == 2 and drawn[1] == drawn[0] - 3  # after: the three dropped references are gone
        shot(page, "app-3-fixed")
        with page.expect_download() as info:
            link.click()
        fixed = tmp_path / "downloaded.db"
        info.value.save_as(fixed)
        d = diagnose(fixed)
        assert d.state == "fixed" and d.insert_simulation.ok
        with page.expect_download() as info:
            page.locator("#fk-download-report").click()
        report = tmp_path / "report.html"
        info.value.save_as(report)
        assert "The insert fails because project_id" in report.read_text()
    finally:
        page.close()


def test_triage_app_takes_a_large_upload_and_a_bad_file(browser, voila, tmp_path):
    import random
    import sqlite3

    from toolkit import appmodel as app
    from toolkit.samples import delete_parent_of_newest, load_dataset, make_dataset

    big = tmp_path / "big customer.db"
    conn = sqlite3.connect(big, isolation_level=None)
    app.migrate(conn, 27)
    load_dataset(conn, make_dataset(random.Random(5), profiles=50, projects=500, generations=60_000, upscales=50_000))
    conn.execute("UPDATE veo3_video_generations SET prompt = prompt || ? ", ("x" * 300,))
    delete_parent_of_newest(conn, app.PROJECTS, "project_id")
    conn.close()
    size_mb = big.stat().st_size / 1e6
    assert size_mb > 20
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        page.goto(voila)
        upload(page, big)
        answer = page.locator('[data-fk="answer"]').first
        answer.wait_for(timeout=120_000)
        assert answer.inner_text().startswith("The insert fails because project_id"), answer.inner_text()
        shot(page, "app-4-large-upload")
        bad = tmp_path / "notes.txt.db"
        bad.write_text("not a database")
        upload(page, bad)
        page.get_by_text("is not a SQLite database").wait_for(timeout=60_000)
        expect(page.get_by_role("button", name="Apply migration 030 to a copy")).to_be_disabled(timeout=10_000)
        shot(page, "app-5-bad-file")
    finally:
        page.close()
    print(f"large upload: {size_mb:.0f} MB")


# ---- the web app answers a pasted statement or error message on another app's file (Part 11) ----
SHOP = """
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id));
INSERT INTO customers VALUES ('ALFKI', 'Alfreds');
"""


def shop_file(tmp_path: Path) -> Path:

    path = tmp_path / "shop.db"
    make_db(path, SHOP)
    return path


def explain(page, voila_url: str, db: Path, *, sql: str = "", message: str = ""):
    """Upload `db`, paste into the statement form, press Explain; the form's answer."""
    page.goto(voila_url)
    upload(page, db)
    page.locator('[data-fk="answer"]').first.wait_for(timeout=60_000)  # the file's own answer first
    form = page.locator(".fk-statement")
    if sql:
        form.locator("textarea").fill(sql)
    if message:
        form.locator("input[type=text]").fill(message)
    form.get_by_role("button", name="Explain").click()
    answer = form.locator('[data-fk="answer"]')
    answer.wait_for(timeout=60_000)
    return form, answer


def test_triage_app_explains_a_pasted_insert_that_breaks_a_reference(browser, voila, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        form, answer = explain(page, voila, shop_file(tmp_path),
                               sql="BEGIN;\nINSERT INTO orders (id, customer_id) VALUES (7, 'BONAP');\nCOMMIT;")
        assert answer.inner_text().startswith("Statement 2 (INSERT INTO orders"), answer.inner_text()
        table = form.locator('table[data-fk="violations"]')
        (row,) = table.locator("tbody tr").all_inner_texts()
        assert row.split("\t")[:2] == ["orders", "7"] and "missing-row" in row and "'BONAP'" in row
        expect(page.locator(".fk-diagram-box svg g.fk.failing")).to_have_count(1, timeout=30_000)
        shot(page, "app-6-statement")
    finally:
        page.close()


def test_triage_app_explains_a_pasted_error_message(browser, voila, tmp_path):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        _, answer = explain(page, voila, shop_file(tmp_path), message="FOREIGN KEY constraint failed")
        text = answer.inner_text()
        assert "can come from 1 declaration(s): orders(customer_id) REFERENCES customers(id)" in text, text
        shot(page, "app-7-error-message")
    finally:
        page.close()
