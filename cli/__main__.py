"""`python -m turnproof.cli …` runs the `turnproof` command."""

from turnproof.cli.main import main

main()
