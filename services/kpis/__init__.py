"""Read queries behind the KPI pages: backlog, supply on order and data freshness."""
