"""Real multi-view data shipped with the course (rebuilt by ``python -m coursetools.rebuild_data``)."""
