"""Probes and reconciliation: last runs, stale probes, API budget use, and the findings of one probe
(?probe=) with the money they put at risk and a link to trace each record."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import svg
from dashboard.api import Ok, Request
from dashboard.format import duration, esc, money_at_risk, parse_time, pretty_json, short_error
from dashboard.ui import fetch, finding, now, param, set_params, show_problem

st.title("Probes and reconciliation")
# plain glyphs: a table cell cannot colour them, and emoji are boxes where the browser lacks an emoji font
OUTCOME_ICON = {
    "ok": "●", "mismatch": "▲", "failed": "■", "timeout": "■", "throttled": "▲", "unknown": "○", "unreached": "○",
}  # fmt: skip

(probes_o,) = fetch([Request.of("/api/v1/probes")])
if not isinstance(probes_o, Ok):
    show_problem(probes_o, "Probes", "Probe runs appear here once the probes stage is deployed.")
    st.stop()
body: dict[str, Any] = probes_o.data or {}
probes: list[dict[str, Any]] = [p for p in body.get("probes", []) if isinstance(p, dict)]
if body.get("config_error"):
    finding("bad", f"**The probes file was refused:** {esc(body['config_error'])}")
for skipped, why in (body.get("skipped") or {}).items():
    st.warning(f"Probe {esc(skipped)} is not scheduled: {esc(why)}")
if not probes:
    st.info(
        "No probe is configured yet: the collector runs the probes listed in the file named by "
        "SYNCWATCH_PROBES_CONFIG (see the probes documentation); their runs, findings and API budget show here."
    )
    st.stop()

current = now()
rows: list[dict[str, Any]] = []
for p in probes:
    run = p.get("last_run") or {}
    budget = p.get("budget") or {}
    started = parse_time(run.get("started_at"))
    per_hour = budget.get("calls_per_hour") or 0
    rows.append(
        {
            "probe": p.get("name"),
            "system": p.get("system"),
            "outcome": f"{OUTCOME_ICON.get(str(run.get('outcome')), '○')} {run.get('outcome', 'never ran')}",
            "stale": "▲ stale" if p.get("stale") else "",
            "last run": f"{duration((current - started).total_seconds())} ago" if started else "never",
            "every": duration(p.get("interval_seconds")),
            "took": duration((run.get("duration_ms") or 0) / 1000) if run else "—",
            "findings": run.get("findings"),
            "API calls": run.get("api_calls"),
            "budget used (last hour)": (budget.get("used_last_hour") or 0) / per_hour if per_hour else None,
            # a raw JSON answer squeezed the table: a line here, the full text under "Errors in full"
            "error": short_error(run.get("error")),
        }
    )
stale = [str(r["probe"]) for r in rows if r["stale"]]
failing = [str(r["probe"]) for r in rows if any(w in str(r["outcome"]) for w in ("failed", "timeout"))]
top = st.columns(4)
top[0].metric("Probes", len(rows))
top[1].metric("Stale", len(stale), help="No result for three intervals")
top[2].metric("Failing", len(failing))
top[3].metric("Findings (last runs)", f"{sum(int(r['findings'] or 0) for r in rows):,}")
if stale:
    st.warning("Stale probes (no result for 3 intervals): " + ", ".join(map(esc, stale)))
# A short list: a static table draws faster than a data grid (~0.3-0.5 s of first render each)
# st.table renders its cells as Markdown: every text cell is escaped
probe_table = pd.DataFrame([{k: esc(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]).set_index(
    "probe"
)
probe_table["budget used (last hour)"] = [
    f"{v * 100:.0f} %" if isinstance(v, int | float) else "—" for v in probe_table["budget used (last hour)"]
]
st.table(probe_table)
errors = {str(p.get("name")): str((p.get("last_run") or {}).get("error")) for p in probes
          if (p.get("last_run") or {}).get("error")}  # fmt: skip
if errors:
    with st.expander(f"Errors in full ({len(errors)})"):
        for name, text in errors.items():
            st.markdown(f"**{esc(name)}**")
            st.text(pretty_json(text))

st.subheader("API budget")
# The budget belongs to a system (every probe of NetSuite shares NetSuite's allowance); per probe only when the
# API does not say per system.
systems: dict[str, Any] = body.get("systems") or {}
budget_rows: list[dict[str, Any]] = (
    [{"budget of": name, "used": s.get("used_last_hour") or 0, "allowed": s.get("calls_per_hour") or 0,
      "refused": s.get("refused_calls") or 0} for name, s in systems.items()]
    if systems
    else [{"budget of": p.get("name"), "used": (p.get("budget") or {}).get("used_last_hour") or 0,
           "allowed": (p.get("budget") or {}).get("calls_per_hour") or 0, "refused": 0} for p in probes]
)  # fmt: skip
st.image(
    svg.bars([str(r["budget of"]) for r in budget_rows], [float(r["used"]) for r in budget_rows],
             "API calls in the last hour", lambda v: f"{v:,.0f}", [float(r["allowed"]) or None for r in budget_rows]),
    width="stretch",
)  # fmt: skip
refused = sum(int(r["refused"] or 0) for r in budget_rows if isinstance(r["refused"], int | float))
st.caption(
    "Red ticks mark the hourly allowance each system grants (shared with its other API clients)."
    + (f" {refused:,} calls were refused by the budget since the collector started." if refused else "")
)

st.subheader("Findings")
names = [str(p.get("name")) for p in probes]
with_findings = [str(r["probe"]) for r in rows if r["findings"]]
default = str(param("probe", with_findings[0] if with_findings else names[0], names))
chosen = st.selectbox("Probe", names, index=names.index(default))
set_params(probe=chosen)
(findings_o,) = fetch([Request.of(f"/api/v1/probes/{quote(chosen, safe='')}/findings", limit=1000)])
if not isinstance(findings_o, Ok):
    show_problem(findings_o, "Findings")
    st.stop()
answer = findings_o.data or {}
findings: list[dict[str, Any]] = answer.get("findings") or []
st.caption(f"Run {esc(answer.get('run_id', '—'))} observed at {esc(answer.get('observed_at', '—'))} (UTC)")
if not findings:
    st.success(f"{esc(chosen)}: its last run found nothing to reconcile.")
    st.stop()
frame = pd.DataFrame(findings)
at_risk: dict[str, float] = {}
for f in findings:
    if isinstance(f.get("amount"), int | float) and f.get("currency"):
        at_risk[str(f["currency"])] = at_risk.get(str(f["currency"]), 0.0) + float(f["amount"])
# one line that wraps: a tile per currency cut its amount off mid-number once there were several
money_line = f" · at risk: **{esc(money_at_risk({'at_risk': at_risk}))}**" if at_risk else ""
st.markdown(f"**{len(findings):,} findings**{money_line}")
by_kind = frame.groupby("kind").size().reset_index(name="findings") if "kind" in frame else pd.DataFrame()
if not by_kind.empty:
    by_kind = by_kind.sort_values("findings", ascending=False)
    st.image(
        svg.bars(list(by_kind["kind"]), [float(n) for n in by_kind["findings"]], "records", lambda v: f"{v:,.0f}"),
        width="stretch",
    )
kinds = sorted(frame["kind"].dropna().unique()) if "kind" in frame else []
picked = st.multiselect("Kinds", kinds, default=kinds)
shown = frame[frame["kind"].isin(picked)] if "kind" in frame else frame
shown = shown.assign(
    trace=[f"./trace?key={quote(str(o), safe='')}" for o in shown.get("object_id", [])],
    age=[duration(a) for a in shown.get("age_seconds", [])],
)
st.dataframe(
    shown,
    hide_index=True,
    column_order=["trace", "kind", "object_type", "object_id", "tenant_id", "project_code", "consultant_id", "age",
                  "amount", "currency", "detail"],
    column_config={"trace": st.column_config.LinkColumn("trace", display_text="trace ↗", width="small"),
                   "amount": st.column_config.NumberColumn(format="%.2f")},
)  # fmt: skip
