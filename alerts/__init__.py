"""Alerts for on-call: rules as code, evaluation every 15 s, routing, silences, notifiers (docs/alerting.md).

Data flows one way: metrics and probes write the warehouse; alerts read it through a `SignalSource`
(signals.py), keep alert state and history in the warehouse (store.py) and tell people (dispatch.py, notifiers/).
"""
