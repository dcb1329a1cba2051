"""A shareable case record: one self-contained HTML file (or Markdown for a ticket).

The answer comes first, then the findings, the app's insert before and after, the schema
side by side with changes highlighted, the SQL of the fix and its proof.  No CDN, no script:
it opens offline, and every value from the customer's file is escaped (Jinja2 autoescape).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path

import jinja2

from . import __version__, errors
from . import appmodel as app
from .comparison import Comparison, compare
from .diagnosis import Diagnosis, diagnose
from .migration import MigrationResult, apply_030
from .safe_access import work_folder


@dataclass
class Report:
    diagnosis: Diagnosis
    migration: MigrationResult | None
    comparison: Comparison | None
    hashes: dict[str, str]
    generated: str

    @property
    def upscale_columns(self) -> list[dict]:
        """The upscale table's columns before and after, side by side."""
        if self.comparison is None:
            return []
        b = self.comparison.schema_before.table(app.UPSCALES)
        a = self.comparison.schema_after.table(app.UPSCALES)
        before = b.declarations() if b else {}
        after = a.declarations() if a else {}
        return [{"name": name, "before": text, "after": after.get(name, "(missing)"),
                 "changed": text != after.get(name)} for name, text in before.items()]

    @property
    def diagram_html(self) -> str:
        """The references around the upscale table, before and after the fix when it ran."""
        from .diagram import diagram_html

        return diagram_html(self.diagnosis, self.comparison.schema_after if self.comparison else None)

    def render(self, fmt: str = "html") -> str:
        env = jinja2.Environment(autoescape=fmt == "html", undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True)
        template = env.from_string(HTML if fmt == "html" else MARKDOWN)
        return template.render(r=self, d=self.diagnosis, m=self.migration, c=self.comparison,
                               proof=self.migration.proof if self.migration else None,
                               version=__version__, md=_md)


def _md(value: object) -> str:
    """A value safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def build_report(path: str | Path, *, full_check: bool = False, fixed: str | Path | None = None,
                 force: bool = False) -> Report:
    """The main job on one file: diagnose it, apply 030 to a copy, compare before and after.
    The fixed copy is written to `fixed` (kept) or to a temporary folder (removed)."""
    path = Path(path)
    diagnosis = diagnose(path, full_check=full_check)
    migration = comparison = None
    if diagnosis.state != "no-upscales-table":
        tmp = work_folder("report")
        try:
            migration = apply_030(path, fixed or tmp / "fixed.db", full_check=full_check, force=force)
            comparison = compare(path, migration.output) if migration.output else None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Report(diagnosis, migration, comparison, diagnosis.original_hashes,
                  datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _check_out(path: Path, out: Path) -> None:
    if out.resolve() == path.resolve():
        raise errors.RefusedError(f"--out {out} is the customer's file itself; write the report elsewhere.", path)
    if not out.parent.is_dir():
        raise errors.RefusedError(f"The folder of --out {out} does not exist; create it first.", path)


def save_report(report: Report, out: str | Path, *, fmt: str = "html") -> Path:
    """Write the rendered record to `out`, whole or not at all, never over the customer's file."""
    path, out = Path(report.diagnosis.database), Path(out)
    _check_out(path, out)
    text = report.render(fmt)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", dir=out.parent)
    except OSError as exc:
        raise errors.from_os_error(exc, out.parent) or errors.RefusedError(
            f"Cannot write the report beside {out} ({exc.strerror}); choose a writable folder.", path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)  # the report appears whole or not at all
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        failure = errors.from_os_error(exc, out.parent) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        raise
    return out


def write_report(path: str | Path, out: str | Path, *, fmt: str = "html", full_check: bool = False) -> Path:
    path, out = Path(path), Path(out)
    _check_out(path, out)  # refused before any work is done
    return save_report(build_report(path, full_check=full_check), out, fmt=fmt)


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Foreign-key diagnosis: {{ d.database }}</title>
<style>
 body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d1d1f; padding: 0 1em; }
 h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
 .answer { font-size: 1.15em; padding: .8em 1em; border-left: 6px solid #c62828; background: #fdecea; }
 .answer.ok { border-color: #2e7d32; background: #e8f5e9; }
 table { border-collapse: collapse; width: 100%; margin: .5em 0; font-size: .92em; }
 th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
 th { background: #f5f5f7; } tr.changed td { background: #fff3cd; } td.bad { background: #fdecea; }
 td.good { background: #e8f5e9; } .sev-error { color: #c62828; font-weight: 600; } .sev-warning { color: #b26a00; }
 pre { background: #f5f5f7; padding: 1em; overflow-x: auto; font-size: .85em; white-space: pre-wrap; }
 .side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; } code { font-size: .95em; }
 .meta { color: #666; font-size: .9em; }
 .diagram svg { max-width: 100%; height: auto; } .diagram figcaption { color: #555; font-size: .9em; }
</style></head><body>
<h1>Foreign-key diagnosis of <code>{{ d.database }}</code></h1>
<p class="meta">fk-toolkit {{ version }} · SQLite {{ d.sqlite_version }} · {{ r.generated }}</p>
<p class="answer{% if d.healthy %} ok{% endif %}" id="answer">{{ d.answer }}</p>
<table>
 <tr><th>State</th><td id="state">{{ d.state }}</td><th>Needs migration 030</th><td>{{ "yes" if d.needs_migration_030 else "no" }}</td></tr>
 <tr><th>Recorded version</th><td>{{ d.recorded_version if d.recorded_version is not none else "none" }}{% if d.version_source %} ({{ d.version_source }}){% endif %}</td>
     <th>Un-checkpointed -wal pages</th><td>{{ d.wal_frames }}</td></tr>
</table>

<h2>The app's insert of an upscale record</h2>
{% set sim = d.insert_simulation %}
{% if sim.attempted %}
<p>Run on a copy with <code>PRAGMA foreign_keys = ON</code>, rolled back:
 <strong>{{ "succeeds" if sim.ok else "fails: " ~ sim.error }}</strong></p>
<table id="references"><tr><th>Reference</th><th>Value</th><th>Parent</th><th>Parent row exists</th><th>Reason</th><th>Why</th></tr>
{% for ref in sim.references %}
 <tr><td>{{ ref.column }}</td><td><code>{{ ref.value }}</code></td><td>{{ ref.parent_table }}.{{ ref.parent_column }}</td>
  <td class="{{ 'good' if ref.parent_exists else 'bad' }}">{{ ref.parent_exists }}</td>
  <td class="{{ 'good' if ref.reason == 'ok' else 'bad' }}">{{ ref.reason }}</td><td>{{ ref.explanation }}</td></tr>
{% endfor %}
</table>
{% else %}<p>Not simulated: {{ sim.note }}.</p>{% endif %}
{% set picture = r.diagram_html %}
{% if picture %}
<h2>The references, drawn</h2>
<div id="diagram" class="diagram">{{ picture | safe }}</div>
{% endif %}

<h2>Findings</h2>
{% if d.findings %}
<table id="findings"><tr><th>Severity</th><th>Code</th><th>Where</th><th>What</th></tr>
{% for f in d.findings %}
 <tr><td class="sev-{{ f.severity }}">{{ f.severity }}</td><td><code>{{ f.code }}</code></td>
  <td>{{ f.table or "" }}{% if f.column %}.{{ f.column }}{% endif %}</td><td>{{ f.message }}</td></tr>
{% endfor %}
</table>
{% else %}<p>None.</p>{% endif %}

{% if m %}
<h2>Migration 030 on a copy</h2>
{% if m.skipped %}<p>Skipped: {{ m.reason }}</p>{% else %}
<h3>{{ m.state_before }} → {{ m.state_after }}: <code>veo3_video_upscales</code> before and after</h3>
<table id="side-by-side"><tr><th>Column</th><th>Before</th><th>After</th></tr>
{% for row in r.upscale_columns %}
 <tr class="{{ 'changed' if row.changed else '' }}"><td>{{ row.name }}</td><td>{{ row.before }}</td><td>{{ row.after }}</td></tr>
{% endfor %}
</table>
{% if c %}
<div class="side"><div>
<h3>Schema changes</h3>
<table id="schema-changes"><tr><th>Kind</th><th>Table</th><th>Name</th><th>Change</th></tr>
{% for ch in c.schema_changes %}<tr class="changed"><td>{{ ch.kind }}</td><td>{{ ch.table }}</td><td>{{ ch.name }}</td><td>{{ ch.change }}</td></tr>{% endfor %}
</table></div><div>
<h3>Rows per table</h3>
<table id="data-diff"><tr><th>Table</th><th>Before</th><th>After</th><th>Only before</th><th>Only after</th></tr>
{% for t in c.tables %}<tr class="{{ 'changed' if t.only_before or t.only_after else '' }}"><td>{{ t.table }}</td><td>{{ t.rows_before }}</td><td>{{ t.rows_after }}</td><td>{{ t.only_before }}</td><td>{{ t.only_after }}</td></tr>{% endfor %}
</table></div></div>
<p>The app's insert after the fix:
 <strong>{{ "succeeds" if c.insert_after and c.insert_after.ok else ("fails: " ~ c.insert_after.error if c.insert_after else "not simulated") }}</strong></p>
{% endif %}
<h3>Proof</h3>
<table id="proof">
{% for label, ok in proof.lines() %}
 <tr><td class="{{ 'good' if ok else 'bad' }}">{{ "✔" if ok else "✘" }}</td><td>{{ label }}</td></tr>
{% endfor %}
</table>
<h3>The SQL applied</h3>
<pre id="sql">{{ m.sql }}</pre>
{% endif %}
{% endif %}

<h2>The customer's file (only read, never written)</h2>
<table>{% for name, digest in r.hashes.items() %}<tr><td>{{ name }}</td><td><code>sha256 {{ digest }}</code></td></tr>{% endfor %}</table>
</body></html>
"""

MARKDOWN = """# Foreign-key diagnosis of `{{ md(d.database) }}`

**{{ md(d.answer) }}**

| State | Needs 030 | Recorded version | -wal pages |
|---|---|---|---|
| {{ d.state }} | {{ "yes" if d.needs_migration_030 else "no" }} | {{ d.recorded_version if d.recorded_version is not none else "none" }} | {{ d.wal_frames }} |

## The app's insert
{% set sim = d.insert_simulation %}
{% if sim.attempted %}
{{ "Succeeds." if sim.ok else "Fails: `" ~ md(sim.error) ~ "`" }}

| Reference | Value | Parent | Exists | Reason |
|---|---|---|---|---|
{% for ref in sim.references %}
| {{ ref.column }} | `{{ md(ref.value) }}` | {{ md(ref.parent_table) }}.{{ md(ref.parent_column) }} | {{ ref.parent_exists }} | {{ ref.reason }} |
{% endfor %}
{% else %}
Not simulated: {{ md(sim.note) }}.
{% endif %}

## Findings
{% for f in d.findings %}
- **{{ f.severity }}** `{{ f.code }}`: {{ md(f.message) }}
{% endfor %}
{% if m %}

## Migration 030 on a copy
{% if m.skipped %}
Skipped: {{ md(m.reason) }}
{% else %}
| Column | Before | After |
|---|---|---|
{% for row in r.upscale_columns %}
| {{ "**" ~ md(row.name) ~ "**" if row.changed else md(row.name) }} | {{ md(row.before) }} | {{ md(row.after) }} |
{% endfor %}

Proof: rows {{ proof.rows_before }} → {{ proof.rows_after }}, data identical: {{ proof.data_identical }}, indexes preserved: {{ proof.indexes_preserved }}, triggers preserved: {{ proof.triggers_preserved }}, foreign keys removed: {{ proof.foreign_keys_removed }}, columns nullable: {{ proof.columns_nullable }}, {{ proof.integrity_check }} ok: {{ proof.integrity_ok }}, insert after ok: {{ proof.insert_after_ok }}, original unchanged: {{ proof.original_unchanged }}.

```sql
{{ m.sql }}
```
{% endif %}
{% endif %}
"""
