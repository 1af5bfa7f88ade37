"""tensorbench's command line and what reads results: run, aggregation, summaries."""
