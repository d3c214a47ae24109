"""SLI detail: the series over a chosen window, burn rates, a breakdown by dimension, and the records behind the
number with their age and the money at risk. Filters live in the URL (?sli=&window=&by=)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import svg
from dashboard.api import BREAKDOWN_PAGE, SLI_NAMES, Failed, Ok, Request
from dashboard.format import budget as budget_text
from dashboard.format import (
    completeness,
    count,
    duration,
    esc,
    left_out_rows,
    money_at_risk,
    objective_text,
    parse_time,
    status_label,
    thin,
    value,
)
from dashboard.ui import WINDOWS, data, fetch, now, param, set_params, show_problem, window_start

# Google SRE workbook multi-window alerting on a 30-day budget: page at 14.4x (1h/5m) and 6x (6h/30m), ticket at
# 1x (3d/1d).
BURN_THRESHOLDS = {"5m": 14.4, "1h": 14.4, "30m": 6.0, "6h": 6.0, "1d": 1.0, "3d": 1.0}
DIMENSIONS = ("flow", "tenant", "source_system", "target_system", "project", "customer")

st.title("SLI detail")

end = now().replace(second=0, microsecond=0)
window = str(param("window", "7d", WINDOWS))
by = str(param("by", "flow", DIMENSIONS))


def detail_requests(name: str, window: str, by: str) -> list[Request]:
    name = quote(name, safe="")  # ?sli= is whatever the link said
    return [
        Request.of(f"/api/v1/slis/{name}/series", points=720, **{"from": window_start(window, end), "to": end}),
        # the API's largest page, worst first: the chart and the CSV cover every row up to it
        Request.of(f"/api/v1/slis/{name}/breakdown", by=by, window=window, limit=BREAKDOWN_PAGE),
        Request.of(f"/api/v1/slis/{name}/records", limit=500, window=window),
    ]


# One parallel round for the list and the asked-for SLI's details (a second round only if the URL named an SLI
# the collector does not know, or a widget changed the choice).
guess = str(param("sli", SLI_NAMES[0]))
asked = detail_requests(guess, window, by)
slis_o, *first_round = fetch([Request.of("/api/v1/slis"), *asked])
listed = [s for s in (data(slis_o) or {}).get("slis", []) if isinstance(s, dict)]
by_name = {str(s.get("name")): s for s in listed}
names = list(by_name) or list(SLI_NAMES)

controls = st.columns([3, 3, 2])
sli_name = controls[0].selectbox(
    "SLI",
    names,
    index=names.index(guess) if guess in names else 0,
    format_func=lambda n: str(by_name.get(n, {}).get("title") or n),
)
window = controls[1].segmented_control("Window", list(WINDOWS), default=window) or "7d"
by = controls[2].selectbox("Breakdown by", DIMENSIONS, index=DIMENSIONS.index(by))
set_params(sli=sli_name, window=window, by=by)

if not isinstance(slis_o, Ok):
    show_problem(slis_o, "SLIs", "This page fills in once the metrics stage serves /api/v1/slis.")
sli: dict[str, Any] = by_name.get(sli_name, {})
unit = sli.get("unit")
wanted = detail_requests(sli_name, window, by)
# the first round's answers (failures included: a timeout is not worth waiting for twice) unless the choice changed
series_o, breakdown_o, records_o = first_round if wanted == asked else fetch(wanted)

if sli:
    status = str(sli.get("status") or "no_data")
    # two tiles a row: values such as "0.92 bus. days", "≤ 3.00 bus. days", "spent (320 % over)" and
    # "20,048 / 21,133" each need half the page at the metric's size (four a row cut them off)
    top = [*st.columns(2), *st.columns(2)]
    shown_value = value(sli.get("value"), unit, sli.get("details"))
    several = " · " in shown_value  # money in several currencies: too long for a tile, so a line below has it
    top[0].metric("Current value", f"{shown_value.count(' · ') + 1} currencies" if several else esc(shown_value))
    objective = sli.get("objective") or {}
    top[1].metric(
        "Objective",
        esc(objective_text({**objective, "window": None}, unit)),
        help=f"over {esc(objective.get('window'))}",
    )
    top[2].metric("Error budget left", budget_text(sli.get("error_budget_remaining")))
    top[3].metric("Good / total", f"{count(sli.get('good'))} / {count(sli.get('total'))}")
    st.markdown(f"Status: **{status_label(status)}** · objective {esc(objective_text(sli.get('objective'), unit))}")
    if several:
        st.markdown(f"Current value: **{esc(shown_value)}**")
    coverage = sli.get("coverage")
    if coverage:
        st.markdown(f"**Is this number complete?** {esc(completeness(coverage))}")
        missing = left_out_rows(coverage)
        if missing:
            st.dataframe(pd.DataFrame(missing), hide_index=True, width="stretch")
        projects = coverage.get("unknown_projects") or []
        if projects:
            st.caption(
                "Projects no PSA project event describes (missing from its master data as received): "
                + "; ".join(f"{esc(p.get('project'))} ({count(p.get('entries'))} entries)" for p in projects)
            )

st.subheader(f"Over the last {window}")
points = thin((data(series_o) or {}).get("points", []), 720)
if not isinstance(series_o, Ok):
    show_problem(series_o, "Series")
elif not points:
    st.info(f"No snapshot of {esc(sli_name)} in the last {window} yet: the metrics stage stores one every 30 s.")
else:
    shown_unit = unit or (data(series_o) or {}).get("unit")
    times = [t for p in points if (t := parse_time(p.get("time"))) is not None]
    values = [p.get("value") if isinstance(p.get("value"), int | float) else None for p in points][: len(times)]
    title, label = svg.axis(shown_unit, values)
    target = (sli.get("objective") or {}).get("target")
    st.image(svg.line(times, values, title, label, target if isinstance(target, int | float) else None,
                      tick_unit=svg.axis_unit(shown_unit, values)),
             width="stretch")  # fmt: skip
    budgets = [p.get("error_budget_remaining") for p in points][: len(times)]
    if any(isinstance(b, int | float) for b in budgets):
        st.caption("Error budget left")
        st.image(
            svg.line(times, [b if isinstance(b, int | float) else None for b in budgets], "budget left",
                     lambda v: f"{v * 100:.0f} %", 0.0, "spent", area=True, height=220),
            width="stretch",
        )  # fmt: skip

left, right = st.columns(2)
with left:
    st.subheader("Burn rates")
    burn = sli.get("burn_rates") or {}
    if any(isinstance(v, int | float) for v in burn.values()):
        windows = ["5m", "30m", "1h", "6h", "1d", "3d"]
        rates = [float(burn[w]) if isinstance(burn.get(w), int | float) else None for w in windows]
        limits = [BURN_THRESHOLDS[w] for w in windows]
        colours = ["#e53935" if r is not None and r >= t else "#43a047" for r, t in zip(rates, limits, strict=True)]
        st.image(svg.bars(windows, rates, "burn rate (× the pace that spends the budget exactly)",
                          lambda v: f"{v:,.1f}×", limits, colours, width=560), width="stretch")  # fmt: skip
        st.caption("Red ticks: alert thresholds (14.4× over 5m/1h, 6× over 30m/6h pages; 1× over 1d/3d tickets).")
    else:
        st.info("No burn rate yet (too little traffic in the short windows).")
with right:
    st.subheader(f"By {by.replace('_', ' ')}")
    answer = data(breakdown_o) or {}
    rows = answer.get("rows", [])
    total = int(answer.get("total") or len(rows))
    if isinstance(breakdown_o, Failed) and breakdown_o.kind == "invalid":
        st.info(f"{esc(breakdown_o.message)}.")  # this SLI has no such dimension: a choice, not a failure
    elif not isinstance(breakdown_o, Ok):
        show_problem(breakdown_o, "Breakdown")
    elif not rows:
        st.info(f"No breakdown of {esc(sli_name)} by {by} yet.")
    else:
        worst_first = sorted(rows, key=lambda r: (r.get("good") or 0) - (r.get("total") or 0))
        worst = worst_first[:25]
        worst_values = [r.get("value") if isinstance(r.get("value"), int | float) else None for r in worst]
        b_title, b_label = svg.axis(unit, worst_values)
        bar_colours: list[str] | None = None
        quiet = [(r.get("details") or {}).get("seconds_since_last") for r in worst]
        if sli_name == "flow_silence" and by == "flow" and any(isinstance(q, int | float) for q in quiet):
            # per flow the value is 1 or 0 (silent or not): how long each has been quiet says more, red if silent
            worst_values = [float(q) if isinstance(q, int | float) else None for q in quiet]
            b_title, b_label = "quiet for (red: silent, past 3× its cadence)", duration
            bar_colours = ["#e53935" if (r.get("details") or {}).get("silent") else "#43a047" for r in worst]
        st.image(
            svg.bars(
                [str(r.get("key")) for r in worst],
                worst_values,
                b_title,
                b_label,
                colours=bar_colours,
                width=560,
                row=22,
            ),
            width="stretch",
        )
        if len(rows) > 25:
            shown = worst_first[:2000]
            beyond = f" (the {len(rows):,} worst of {total:,})" if total > len(rows) else ""
            st.caption(f"The 25 worst of {total:,}; the CSV holds all of them{beyond}.")
            # on demand: a second large table costs the first render more than half a second
            if st.toggle(f"List the {len(shown):,} worst", key="list_breakdown"):
                st.dataframe(pd.DataFrame(shown), hide_index=True, height=240)
            st.download_button(
                f"Download {'all ' if total == len(rows) else ''}{len(rows):,} rows (CSV)",
                lambda: pd.DataFrame(worst_first).to_csv(index=False),
                f"{sli_name}-by-{by}.csv",
                "text/csv",
                on_click="ignore",
            )

st.subheader(f"Records behind the number (last {window})")
records = (data(records_o) or {}).get("records", [])
if not isinstance(records_o, Ok):
    show_problem(records_o, "Records")
elif not records:
    st.success("No record counts against this SLI right now.")
else:
    totals: dict[str, float] = {}
    for r in records:
        if isinstance(r.get("amount"), int | float) and r.get("currency"):
            totals[str(r["currency"])] = totals.get(str(r["currency"]), 0.0) + float(r["amount"])
    # one line that wraps: a tile per currency cut its amount off mid-number ("377,97...") once there were several
    money_line = f" · at risk: **{esc(money_at_risk({'at_risk': totals}))}**" if totals else ""
    st.markdown(f"**{len(records):,} records**{money_line}")
    frame = pd.DataFrame(
        {
            "trace": [f"./trace?key={quote(str(r.get('key')), safe='')}" for r in records],
            "key": [r.get("key") for r in records],
            "kind": [r.get("kind") for r in records],
            "status": [r.get("status") for r in records],
            "age": [duration(r.get("age_seconds")) for r in records],
            "age (h)": [(r.get("age_seconds") or 0) / 3600 for r in records],
            "amount": [r.get("amount") for r in records],
            "currency": [r.get("currency") for r in records],
            "tenant": [r.get("tenant") for r in records],
            "project": [r.get("project_code") for r in records],
            "detail": [str(r.get("detail") or "") for r in records],
        }
    ).sort_values("age (h)", ascending=False)
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "trace": st.column_config.LinkColumn("trace", display_text="trace ↗", width="small"),
            "age (h)": st.column_config.NumberColumn("age (h)", format="%.1f"),
            "amount": st.column_config.NumberColumn("amount", format="%.2f"),
        },
    )
    st.download_button(
        "Download records (CSV)",
        lambda: frame.drop(columns=["trace"]).to_csv(index=False),
        f"{sli_name}-records.csv",
        "text/csv",
        on_click="ignore",
    )
