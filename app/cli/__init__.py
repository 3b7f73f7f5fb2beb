"""The command-line face: one module per subcommand, on the same core as the window. No Qt, no app.ui."""
