"""The HTTP server: `reelcast.serving.app.create_app(run_dir)` and the `reelcast serve` command."""
