"""tensorbench's workload catalogue and device layer: what is measured, never how it is timed."""
