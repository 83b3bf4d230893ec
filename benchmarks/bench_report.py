"""Time `auditor render` to HTML and to PDF from one audit.json; print sizes and PDF pages.

Run from the repository root after `make install` (pdfinfo and pdftoppm from poppler-utils;
chromium for --screenshots):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_report.py [--screenshots DIR]

The bundled sample audit (sample_data/audit.toml) runs once to write audit.json; each render
then runs --repeat times in a fresh process, so start-up and import time count, and the
median wall time is printed. --screenshots DIR writes what a reviewer of the report's layout
looks at: full-page PNGs of the HTML at desktop (1280 px) and phone (390 px) width from
headless Chromium, and every PDF page at 60 dpi from pdftoppm. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUDITOR = Path(sys.executable).with_name("auditor")
CONFIG = Path(__file__).resolve().parents[1] / "sample_data" / "audit.toml"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# The CLI screenshots the window, not the page: a window taller than the report, trimmed to
# its last non-white row afterwards. A phone lays the report out several times taller.
VIEWPORTS = {"desktop": (1280, 24_000), "phone": (390, 40_000)}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def median_seconds(args: list[str], repeat: int) -> float:
    """Median wall time of ``args`` over ``repeat`` fresh processes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, env=ENV, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pdf_pages(pdf: Path) -> str:
    if shutil.which("pdfinfo") is None:
        return "? (pdfinfo from poppler-utils is not installed)"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return next(line.split()[1] for line in info.stdout.splitlines() if line.startswith("Pages:"))


def screenshot(html: Path, target: Path, width: int, height: int) -> None:
    """A PNG of ``html`` at ``width``, cut below the last row that is not plain white."""
    from PIL import Image, ImageChops

    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as profile:
        subprocess.run(
            [
                "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={target}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    with Image.open(target) as image:
        rgb = image.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    bottom = box[3] if box else rgb.height
    kept = min(bottom + 16, rgb.height)
    rgb.crop((0, 0, rgb.width, kept)).save(target)
    cut = "; the page fills the window and may be cut" if bottom == rgb.height else ""
    print(f"  {target}: {rgb.width} x {kept} px{cut}")


def write_screenshots(out: Path, html: Path, pdf: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("chromium") is None:
        print("chromium is not installed: no HTML screenshots")
    else:
        for name, (width, height) in VIEWPORTS.items():
            screenshot(html, out / f"html-{name}.png", width, height)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm (poppler-utils) is not installed: no PDF page images")
        return
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(out / "pdf")], check=True)
    print(f"  {out}/pdf-*.png: {len(list(out.glob('pdf-*.png')))} PDF pages at 60 dpi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="renders per format (median)")
    parser.add_argument("--screenshots", type=Path, help="write PNGs of the HTML and PDF here")
    args = parser.parse_args()
    print(f"OMP_NUM_THREADS=1, cores={os.cpu_count()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        # Exit 1 means the gate failed, which still writes audit.json.
        audited = subprocess.run(
            [str(AUDITOR), "audit", "--config", str(CONFIG), "--out-dir", tmp, "--format", "json"],
            env=ENV,
            capture_output=True,
            text=True,
        )
        if audited.returncode not in (0, 1):
            sys.exit(f"auditor audit exited {audited.returncode}:\n{audited.stderr}")
        print(f"auditor audit (json only), once: {time.perf_counter() - start:.2f} s")
        audit_json = work / "audit.json"
        outputs = {"html": work / "report.html", "pdf": work / "report.pdf"}
        for fmt, target in outputs.items():
            render = [str(AUDITOR), "render", str(audit_json), "--format", fmt, "-o", str(target)]
            seconds = median_seconds(render, args.repeat)
            print(f"auditor render --format {fmt}: median {seconds:.2f} s of {args.repeat}")
        for path in (outputs["html"], outputs["pdf"], audit_json):
            print(f"  {path.name}: {path.stat().st_size / 1024:.0f} KiB")
        print(f"  report.pdf pages: {pdf_pages(outputs['pdf'])}")
        if args.screenshots is not None:
            write_screenshots(args.screenshots, outputs["html"], outputs["pdf"])


if __name__ == "__main__":
    main()
