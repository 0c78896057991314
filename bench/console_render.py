"""How fast the console draws an answer, and what the page weighs, in Debian's chromium.

    python bench/console_render.py                  # full plant, 1 day, 60 questions
    python bench/console_render.py --questions 20   # a quick run

Seeds the full 363-equipment plant into a scratch database, collects the console's files as production does
(hashed, gzip and brotli), starts gunicorn, signs in with Playwright and asks the labelled operator questions
(tests/data/operator_queries.jsonl), each as a new topic. For each answer the page records the time from the
orchestrate response's last byte (the browser's resource timing) to the second animation frame after the
widgets were put in the page, so the frame that shows them has been painted (target: 200 ms). The page's weight
is what the browser received, compressed, for the console page and every asset it loaded (target: 400 KB).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from common import machine, operator_questions, seed_scratch_plant, setup_django

PASSWORD = "bench-console-password"


def measure(base_url: str, transcripts: list[str]) -> dict:
    from playwright.sync_api import sync_playwright
    from tqdm import tqdm

    from command_center.local_browser import CHROMIUM_ARGS, INSTALL_HINT, chromium_path

    if (path := chromium_path()) is None:
        sys.exit(INSTALL_HINT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        responses = []
        page.on("response", lambda r: responses.append(r))
        page.goto(base_url + "/")
        page.get_by_label("User name").fill("bench")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("body[data-ready]")
        page.wait_for_load_state("networkidle")
        weight = sum(r.request.sizes()["responseBodySize"] for r in responses if r.request.method == "GET")
        drawn, widgets = [], []
        for i, transcript in enumerate(tqdm(transcripts, desc="questions", unit="q", file=sys.stderr)):
            page.get_by_role("button", name="New topic").click()
            page.get_by_role("textbox", name="Question").fill(transcript)
            page.get_by_role("textbox", name="Question").press("Enter")
            page.wait_for_function(f"document.querySelectorAll('.answer[data-render-ms]').length > {i}")
            answer = page.locator(".answer[data-render-ms]").nth(i)
            drawn.append(float(answer.get_attribute("data-render-ms")))
            widgets.append(answer.locator(".widget").count())
        browser.close()
    ordered = sorted(drawn)
    return {
        "answers": len(drawn),
        "widgets_per_answer": round(statistics.mean(widgets), 2),
        "drawn_p50_ms": round(statistics.median(drawn), 1),
        "drawn_p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "drawn_max_ms": round(max(drawn), 1),
        "within_200_ms": sum(d <= 200 for d in drawn),
        "page_weight_kb": round(weight / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=1, help="History of the seeded plant (default 1 day).")
    parser.add_argument("--questions", type=int, default=60, help="Questions asked (default 60).")
    parser.add_argument("--seed", type=int, default=42, help="Seed for data and question order.")
    args = parser.parse_args()

    setup_django()
    from command_center.local_browser import collect_static
    from command_center.local_server import start_local_server
    from industrial.database.connection import drop_database
    from industrial.plant.spec import EQUIPMENT_TYPES

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    name = "plant_bench_console"
    seeded = seed_scratch_plant(
        name=name, days=args.days, counts={t.name: None for t in EQUIPMENT_TYPES}, seed=args.seed, end=end
    )
    state = Path(tempfile.mkdtemp(prefix="cc-bench-console-"))
    collect_static(state / "static")
    server = start_local_server(
        timeseries_url=seeded["conninfo"], state_dir=state, workers=2, STATIC_ROOT=str(state / "static")
    )
    server.create_user("bench", password=PASSWORD)
    try:
        figures = measure(server.base_url, operator_questions(args.seed)[: args.questions])
    finally:
        server.stop()
        drop_database(name)
    figures = {"machine": machine(), "date": end.date().isoformat(), "plant": {"equipment": 363, "days": args.days},
               **figures}  # fmt: skip
    print(
        f"\n{figures['answers']} answers ({figures['widgets_per_answer']} widgets each): drawn p50 "
        f"{figures['drawn_p50_ms']} ms, p95 {figures['drawn_p95_ms']} ms, max {figures['drawn_max_ms']} ms after the "
        f"answer arrived ({figures['within_200_ms']} within 200 ms); page and assets {figures['page_weight_kb']} KB "
        "compressed"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
