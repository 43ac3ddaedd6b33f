"""``python -m novelty`` and the ``novelty`` command: a Ctrl-C while the libraries load (about a second)
ends as one after it does, exit 130 without a traceback."""

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        print("Interrupted while starting: nothing was done.", file=sys.stderr)
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
