"""Business SLIs and SLOs computed in the warehouse: definitions, objectives, snapshots, API, Prometheus."""
