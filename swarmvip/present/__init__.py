"""Presentation that is not the CLI's argparse: plan and status tables, render's compose."""
