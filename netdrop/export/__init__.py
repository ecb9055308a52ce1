"""`netdrop export`: the drop counts and active causes for Prometheus (docs/export.md)."""
