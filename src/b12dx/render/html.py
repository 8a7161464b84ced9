"""A self-contained HTML report (printable), rendered from the Markdown-free model."""

from __future__ import annotations

from html import escape

from ..result import Assessment
from .common import LEVEL_TEXT, pct

__all__ = ["render_html"]

_CSS = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a}
.banner{padding:1rem;border-radius:.5rem;font-weight:700}
.emergency_ambulance,.emergency{background:#b00020;color:#fff}
.consultation_24{background:#ffd54f}.consultation{background:#b3e5fc}.self_care{background:#c8e6c9}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;text-align:left}
.bar{background:#1565c0;height:.8rem;display:inline-block}
@media print{.banner{border:2px solid #000}}
"""


def render_html(a: Assessment) -> str:
    t = a.triage
    e = escape
    rows = "".join(
        f"<tr><td>{e(c.name)}</td><td>{pct(c.probability)}</td><td><span class='bar' "
        f"style='width:{c.probability * 10:.2f}rem' role='img' "
        f"aria-label='{pct(c.probability)}'></span></td>"
        f"<td>{e(', '.join(x.label for x in c.for_[:3]))}</td>"
        f"<td>{e(', '.join(x.label for x in c.against[:3]))}</td></tr>"
        for c in a.differential
    )
    labs = "".join(
        f"<tr><td>{e(x.name)}</td><td>{x.value:g} {e(x.unit)}</td>"
        f"<td>{e(x.band_label or '—')}</td><td>{e(x.text)}</td></tr>"
        for x in a.labs
    )
    tests = "".join(f"<li><strong>{e(n.name)}</strong> — {e(n.why)}</li>" for n in a.next_tests)
    treat = "".join(
        f"<li><strong>{e(tr.cause)} ({e(tr.route)})</strong>: {e(tr.regimen)} — {e(tr.why)}</li>"
        for tr in ([a.treatment] if a.treatment else []) + a.other_treatments
    )
    reasons = "".join(
        f"<li>{e(r.text)}{(' — ' + e(r.action)) if r.action else ''}</li>" for r in t.reasons
    )
    sources = "".join(
        f"<li id='src-{e(s.id)}'>[{e(s.id)}] {e(s.title)}, {e(s.body)} "
        f"<a href='{e(s.url)}'>{e(s.url)}</a></li>"
        for s in a.sources
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>b12dx assessment</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>b12dx assessment</h1>
<div class="banner {t.level}" role="status">{e(LEVEL_TEXT[t.level])} (triage: {t.level})</div>
<ul>{reasons}</ul>
<h2>Differential</h2><table><thead><tr><th>Cause</th><th>Probability</th><th></th>
<th>For</th><th>Against</th></tr></thead><tbody>{rows}</tbody></table>
{f"<h2>Laboratory results</h2><table><tbody>{labs}</tbody></table>" if labs else ""}
{f"<h2>Next tests</h2><ul>{tests}</ul>" if tests else ""}
{f"<h2>Treatment</h2><ul>{treat}</ul>" if treat else ""}
<h2>Sources</h2><ol>{sources}</ol>
<p><em>{e(a.disclaimer)}</em></p>
<p>KB {e(a.kb.version)} ({a.kb.sha256[:12]}), b12dx {e(a.b12dx_version)}</p>
</body></html>
"""
