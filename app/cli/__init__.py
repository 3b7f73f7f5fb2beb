"""The command-line face of QuantDesk: one module per subcommand, each `add_parser` + `run`. No Qt here."""
