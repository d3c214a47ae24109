"""Overview: is anything broken, what, how much money. SLI tiles, the flow map, firing alerts; live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import streamlit as st

from dashboard.api import BREAKDOWN_PAGE, SLI_NAMES, Ok, Request
from dashboard.exceptions_tile import exceptions_tile
from dashboard.flows import flow_map_svg, hop_health, silent_flows
from dashboard.format import (
    STATUS_COLOUR,
    change,
    completeness,
    count,
    esc,
    money_at_risk,
    objective_text,
    overall_finding,
    parse_time,
    status_label,
    thin,
    value,
)
from dashboard.format import budget as budget_text
from dashboard.ui import data, fetch, finding, now, refresh_seconds, show_problem

st.title("Integration health")


def _tile(sli: dict[str, Any], points: list[dict[str, Any]]) -> None:
    name = str(sli.get("name"))
    unit = sli.get("unit")
    status = str(sli.get("status") or "no_data")
    objective = sli.get("objective") or {}
    # 24 h of 30 s snapshots is 2,880 points; a sparkline shows the shape with 96
    # the shape, not the noise: one point per quarter hour
    series = [float(p["value"]) for p in thin(points, 96, keep="last") if isinstance(p.get("value"), int | float)]
    # the chip is the change of the number on the tile since the first snapshot of the period it names (the
    # first one itself, not the last of the first sparkline bucket)
    first = next((p for p in points if isinstance(p.get("value"), int | float)), None)
    began = parse_time(first.get("time")) if first else None
    chip = (
        change(first.get("value"), sli.get("value"), unit, objective.get("comparison"), (now() - began).total_seconds())
        if first and began
        else None
    )
    budget = sli.get("error_budget_remaining")
    help_text = (
        f"Objective {esc(objective_text(objective, unit))}. Error budget left: {esc(budget_text(budget))}. "
        f"{count(sli.get('good'))} good of {count(sli.get('total'))}."
    )
    with st.container(border=True):
        st.metric(
            label=esc(sli.get("title") or name),
            value=esc(value(sli.get("value"), unit, sli.get("details"))),
            delta=chip.text if chip else None,
            delta_color=chip.colour if chip else "off",
            delta_arrow=chip.arrow if chip else "auto",
            help=help_text,
            chart_data=series or None,
            chart_type="area",
        )
        st.markdown(
            f"{status_label(status)} · objective {esc(objective_text(objective, unit))} · "
            f"budget left **{esc(budget_text(budget))}**"
        )
        complete = completeness(sli.get("coverage"))
        if complete:  # is this number complete? what it could not see, next to it
            st.caption(esc(complete))
        st.page_link("app_pages/sli_detail.py", label="Details and records", icon=":material/arrow_forward:",
                     query_params={"sli": name})  # fmt: skip


@st.fragment(run_every=timedelta(seconds=refresh_seconds()))
def live() -> None:
    end = now().replace(second=0, microsecond=0)
    start = end - timedelta(hours=24)

    def series_request(name: str) -> Request:
        # the API thins server-side with `points`; thin() below covers an API that ignores it
        return Request.of(f"/api/v1/slis/{quote(name, safe='')}/series", points=96, **{"from": start, "to": end})

    # One parallel round: the SLI names are known, so the sparklines need not wait for /slis to answer.
    slis_o, silence_o, alerts_o, *known_series = fetch(
        [
            Request.of("/api/v1/slis"),  # each SLI over its own objective window
            Request.of("/api/v1/slis/flow_silence/breakdown", by="flow", limit=BREAKDOWN_PAGE),
            Request.of("/api/v1/alerts"),
            *(series_request(n) for n in SLI_NAMES),
        ]
    )
    slis_body = data(slis_o) or {}
    slis = {str(s.get("name")): s for s in slis_body.get("slis", []) if isinstance(s, dict)}
    series = {n: (data(o) or {}).get("points", []) for n, o in zip(SLI_NAMES, known_series, strict=True)}
    others = [n for n in slis if n not in series]  # an SLI added after this console was built
    for name, outcome in zip(others, fetch([series_request(n) for n in others]), strict=True):
        series[name] = (data(outcome) or {}).get("points", [])

    # the headline: what is breached, how many alerts fire, how much money sits at risk
    breached = [s for s in slis.values() if s.get("status") == "breach"]
    warned = [s for s in slis.values() if s.get("status") == "warning"]
    firing = [a for a in (data(alerts_o) or {}).get("alerts", []) if a.get("state") == "firing"]
    wip = slis.get("unbilled_wip_at_risk", {})
    head = st.columns(4)
    head[0].metric("SLIs breached", f"{len(breached)} of {len(slis)}" if slis else "—")
    head[1].metric("SLIs warning", len(warned) if slis else "—")
    head[2].metric("SLIs without data", f"{sum(s.get('status') in (None, 'no_data') for s in slis.values())}"
                   if slis else "—")  # fmt: skip
    head[3].metric("Alerts firing", len(firing) if isinstance(alerts_o, Ok) else "—")
    # a line, not a tile: several currencies side by side do not fit a tile and were cut off mid-number
    st.markdown(
        "**Unbilled WIP at risk:** "
        + (esc(money_at_risk(wip.get("details"))) if wip.get("details") else "—")
        + " (older than 30 days or blocked, per currency)"
    )
    if breached:
        finding("bad", "**Breached:** " + ", ".join(esc(s.get("title") or s.get("name")) for s in breached))
    verdict = overall_finding(list(slis.values()))
    if verdict:
        finding(*verdict)
    if slis_body.get("as_of"):
        span = f" · window {esc(slis_body['from'])} → {esc(slis_body.get('to'))}" if slis_body.get("from") else ""
        st.caption(f"As of {esc(slis_body['as_of'])} (UTC){span} · each SLI over its objective's window")

    exceptions_tile()

    st.subheader("Flows")
    silent = silent_flows((data(silence_o) or {}).get("rows", []))
    health = hop_health(slis, silent)
    left, right = st.columns([3, 2])
    left.image(flow_map_svg(health), width="stretch")
    with right:
        lines = []
        for h in health:
            colour = STATUS_COLOUR.get(h.status, "gray")
            why = "; ".join(h.reasons) if h.reasons else ("no data yet" if h.status == "no_data" else "healthy")
            lines.append(f"- :{colour}[●] **{h.hop.source} → {h.hop.target}: {h.hop.label}** · {esc(why)}")
        st.markdown("\n".join(lines))

    st.subheader("Service level indicators")
    if not isinstance(slis_o, Ok):
        show_problem(slis_o, "SLIs", "Tiles appear once the metrics stage serves /api/v1/slis.")
    elif not slis:
        st.info("No SLI has been computed yet: the metrics stage writes its first snapshot within a minute.")
    else:
        ordered = [slis[n] for n in SLI_NAMES if n in slis] + [s for n, s in slis.items() if n not in SLI_NAMES]
        for start_at in range(0, len(ordered), 3):
            cols = st.columns(3)
            for col, sli in zip(cols, ordered[start_at : start_at + 3], strict=False):
                with col:
                    _tile(sli, series.get(str(sli.get("name")), []))
    if not isinstance(alerts_o, Ok):
        show_problem(alerts_o, "Alerts")
    elif firing:
        st.subheader("Firing alerts")
        for a in firing[:10]:
            summary = (a.get("annotations") or {}).get("summary") or a.get("rule")
            st.markdown(
                f":red[:material/notifications_active:] **{esc(a.get('severity', '?'))}** · {esc(summary)} · "
                f"since {esc(a.get('active_since', '?'))}"
            )
        st.page_link("app_pages/alerts.py", label="All alerts", icon=":material/arrow_forward:")
    st.caption(f"Refreshes every {refresh_seconds()} s.")


live()
