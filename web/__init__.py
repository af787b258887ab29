"""The staff and organiser dashboard: participation pages, organiser tools, tracked links."""
