"""`python -m turnproof.cli …` (and the `turnproof` script) run the `turnproof` command.

The command's modules are imported inside a guard: a Ctrl-C while they load (a second or more
on a busy machine) exits 130 like one during a search, never with a traceback and exit 1.
"""

import sys


def run() -> None:
    try:
        from turnproof.cli.main import main
    except KeyboardInterrupt:
        sys.stderr.write("\nturnproof: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
