"""Write the Lumen Bank demo data set: train.csv and one JSONL log file per production day.

    python scripts/make_demo_data.py --out novelty-demo --seed 0 --days 7 --per-day 1500
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from novelty.demo_data import write_demo_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("novelty-demo"), help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=1500, help="good records per day")
    parser.add_argument("--no-bad-rows", action="store_true",
                        help="leave the malformed lines out of day 3")
    args = parser.parse_args(argv)
    files = write_demo_files(args.out, seed=args.seed, days=args.days, per_day=args.per_day,
                             with_bad_rows=not args.no_bad_rows)
    print(f"train: {files.train}")
    for path in files.logs:
        print(f"log:   {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
