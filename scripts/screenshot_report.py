"""Screenshot an HTML report in headless Chromium (Debian's `chromium`, driven by Playwright).

    python scripts/screenshot_report.py novelty-demo/report.html docs/report.png [--width 1280 --height 900]

Takes the top of the page at laptop width unless --full-page. docs/report.png: the demo report,
`--height 1075` (the verdict and the novel-rate chart).
"""

from __future__ import annotations

import argparse
from pathlib import Path

# the same flags as tests/test_report_browser.py: no GPU, no background traffic of the browser's own
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.report.resolve().as_uri())
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png), full_page=args.full_page)
        browser.close()
    print(f"{args.png}: {args.png.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
