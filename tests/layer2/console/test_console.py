"""The operator console in a real browser against a live gunicorn: sign in, ask, see, hear, rate, follow up."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from industrial.timeseries.rag import format_number
from rl.experiences.buffer import ExperienceBuffer
from tests.layer2.console.conftest import ask, sign_in_as

pytestmark = pytest.mark.slow
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "console.png"

# Records what the page would say instead of saying it (the test machine has no voices).
SPOKEN = """
window.__spoken = [];
window.speechSynthesis.speak = (utterance) => window.__spoken.push(utterance.text);
"""


def user_id(server, username: str) -> int:
    with sqlite3.connect(server.state_dir / "default.sqlite3") as db:
        return db.execute("SELECT id FROM auth_user WHERE username = ?", (username,)).fetchone()[0]


def latest_value(plant_db, table: str, column: str) -> float:
    return plant_db.execute(f'SELECT "{column}" FROM "{table}" ORDER BY timestamp DESC LIMIT 1').fetchone()[0]


def test_an_operator_asks_sees_hears_rates_and_follows_up(open_console, console_server, plant_db):
    page, watched = open_console("ana", init_script=SPOKEN)
    answer = ask(page, "Show chiller 1 power")

    # The KPI shows the value the database holds, rounded as the voice rounds it; the trend has points.
    kpi = answer.locator('.widget[data-type="kpi"]').first
    expected = format_number("power_consumption_kw", latest_value(plant_db, "chiller_001", "power_consumption_kw"))
    assert kpi.locator(".value").inner_text() == expected
    assert expected in answer.locator(".voice").inner_text()
    trend = answer.locator('.widget[data-type="trend_line"] .chart')
    assert int(trend.get_attribute("data-points")) > 0
    assert trend.locator("canvas").count() == 1
    # The answer is read aloud, as written.
    assert page.evaluate("window.__spoken") == [answer.locator(".voice").inner_text()]

    # Thumbs up on the KPI, by keyboard: it lands in the journal as ana's operator rating.
    query_id = answer.get_attribute("data-query-id")
    kpi.get_by_role("button", name="useful", exact=False).first.focus()
    page.keyboard.press("Space")
    page.wait_for_function("document.querySelector('.answer .saved').textContent === 'Rating saved.'")
    buffer = ExperienceBuffer(console_server.state_dir / "experiences.jsonl")
    experience = buffer.get(query_id)
    assert experience.feedback.source == "operator"
    assert experience.asked_by == user_id(console_server, "ana")
    widget = experience.feedback.per_widget_feedback[0]
    assert (widget.widget_index, widget.widget_type, widget.appropriateness_score) == (0, "kpi", 1.0)
    assert experience.feedback.rating == "up"

    # A rating can be changed: the answer was wrong after all.
    answer.get_by_role("button", name="The answer was wrong").click()
    page.wait_for_function(
        "document.querySelector('.answer .saved').textContent === 'Rating saved.'"
        " && document.querySelector('.answer-rating [aria-pressed=true]')"
    )
    page.wait_for_timeout(300)  # the post after the click
    assert ExperienceBuffer(console_server.state_dir / "experiences.jsonl").get(query_id).feedback.rating == "down"

    # The KPI is too small (it comes in small and medium, so "too big" is not offered): the size says which way.
    assert kpi.get_by_role("button", name="is too big", exact=False).count() == 0
    with page.expect_response(lambda r: r.url.endswith("/api/layer2/feedback/") and r.ok):
        kpi.get_by_role("button", name="is too small", exact=False).click()
    widget = buffer.get(query_id).feedback.per_widget_feedback[0]
    assert (widget.appropriateness_score, widget.size_appropriate, widget.size_direction) == (1.0, False, "larger")
    # Pressed again, it is taken back: the size is unsaid once more.
    with page.expect_response(lambda r: r.url.endswith("/api/layer2/feedback/") and r.ok):
        kpi.get_by_role("button", name="is too small", exact=False).click()
    widget = buffer.get(query_id).feedback.per_widget_feedback[0]
    assert (widget.size_appropriate, widget.size_direction) == (None, None)

    # The operator looks closer at the trend: expands it and runs the pointer over the chart.
    trend_card = answer.locator('.widget[data-type="trend_line"]')
    trend_card.get_by_role("button", name="Expand", exact=False).click()
    box = trend.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.move(5, 5)

    # A follow-up in the thread is answered in context: the same metric, now for chiller 2.
    follow_up = ask(page, "and chiller 2?")
    assert "turn 2" in follow_up.locator(".understood").inner_text()
    assert "Chiller 2 power" in follow_up.locator('.widget[data-type="kpi"] h3').inner_text()
    expected = format_number("power_consumption_kw", latest_value(plant_db, "chiller_002", "power_consumption_kw"))
    assert follow_up.locator('.widget[data-type="kpi"] .value').inner_text() == expected

    # Asking the follow-up ended the first answer's reading time: its signals are stored with it.
    page.wait_for_timeout(500)  # the signals post goes out as the follow-up is sent
    signals = ExperienceBuffer(console_server.state_dir / "experiences.jsonl").get(query_id).signals
    assert signals is not None and signals.next_question_after_ms > 0
    assert [w.widget_type for w in signals.widgets] == [
        c.get_attribute("data-type") for c in answer.locator(".widget").all()
    ]
    assert signals.widgets[0].visible_ms > 0  # the KPI was on screen
    trend_signals = signals.widgets[[w.widget_type for w in signals.widgets].index("trend_line")]
    assert (trend_signals.expansions, trend_signals.hovers) == (1, 1)

    # "New topic" starts afresh: the same words are no longer a follow-up.
    page.get_by_role("button", name="New topic").click()
    fresh = ask(page, "and chiller 2?")
    assert "turn 1" in fresh.locator(".understood").inner_text()

    drawn_ms = [a.get_attribute("data-render-ms") for a in page.locator(".answer").all()]
    print(f"widgets drawn after the answer arrived: {drawn_ms} ms")
    if os.environ.get("UPDATE_CONSOLE_SCREENSHOT"):
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=SCREENSHOT)
    watched.assert_clean()


def test_every_widget_type_is_drawn_at_its_size_on_a_desktop_and_a_tablet(open_console):
    questions = [
        "Show chiller 1 power",
        "chiller 1 cop gauge",
        "compare chiller 1 and chiller 2 power over the last 3 days",
        "Which compressors have abnormal temperatures?",
        "any anomalies on pump 1",
        "active alerts",
        "status of all pumps",
    ]
    for viewport in [(1366, 768), (820, 1180)]:
        page, watched = open_console("ana", viewport=viewport)
        drawn = {}
        for question in questions:
            page.get_by_role("button", name="New topic").click()
            answer = ask(page, question)
            for card in answer.locator(".widget").all():
                drawn[card.get_attribute("data-type")] = card
                assert card.locator(".body").inner_text().strip() or card.locator("canvas").count(), question
        assert set(drawn) == {
            "kpi", "gauge", "trend_line", "comparison", "bar_ranking", "table",
            "alerts_list", "status_grid", "anomaly_timeline", "text_summary",
        }  # fmt: skip
        grid = page.locator(".grid").first.bounding_box()["width"]
        kpi = drawn["kpi"].bounding_box()["width"]
        if viewport[0] > 1100:  # a small widget is a quarter of the row, a full one all of it
            assert 0.2 < kpi / grid < 0.3
        else:  # on a tablet a small widget takes half the row
            assert 0.45 < kpi / grid < 0.55
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        watched.assert_clean()


def test_page_and_assets_weigh_at_most_400_kb_compressed(open_console):
    page, watched = open_console("ana")
    page.wait_for_load_state("networkidle")
    sizes = {r.url: r.request.sizes()["responseBodySize"] for r in watched.responses if r.request.method == "GET"}
    total = sum(sizes.values())
    print(f"console page and assets: {total / 1024:.1f} KB compressed over {len(sizes)} responses")
    assert any(".br" in (r.headers.get("content-encoding") or "") or r.headers.get("content-encoding") == "br"
               for r in watched.responses if r.url.endswith(".js"))  # fmt: skip
    assert total <= 400 * 1024, sizes
    watched.assert_clean()


def test_numbers_are_rounded_exactly_as_the_voice_rounds_them(open_console):
    page, _ = open_console("ana")
    rng = random.Random(5)
    values = [0.125, 2.5, 3.5, -0.05, -0.04, 0.0, -0.0, 1e-4, 0.005, 0.015, 1234.5, 99.95, 7.505, -2.675]
    values += [rng.uniform(-500, 500) for _ in range(300)] + [round(rng.uniform(0, 50), 3) for _ in range(300)]
    cases = [(v, d) for v in values for d in (0, 1, 2)]
    shown = page.evaluate(
        """async (cases) => {
            const { roundHalfEven } = await import("/static/layer2/console/format.js");
            return cases.map(([v, d]) => roundHalfEven(v, d));
        }""",
        cases,
    )
    metric = {0: "speed_rpm", 1: "supply_air_temp_c", 2: "cop"}
    expected = [format_number(metric[d], v) for v, d in cases]
    mismatches = [(c, s, e) for c, s, e in zip(cases, shown, expected, strict=True) if s != e]
    assert mismatches == []


def test_a_non_staff_user_sees_no_staff_controls_and_staff_see_the_feedback_just_given(open_console, console_server):
    page, watched = open_console("ana")
    assert page.get_by_role("link", name="Learning").count() == 0
    answer = ask(page, "show pump 2 flow")
    answer.get_by_role("button", name="The answer was right").click()
    page.wait_for_function("document.querySelector('.answer .saved').textContent === 'Rating saved.'")
    assert page.goto(console_server.base_url + "/learning/").status == 403
    watched.errors.clear()  # the 403 is logged by the browser as a failed load

    staff, staff_watched = open_console("sam")
    staff.get_by_role("link", name="Learning").click()
    staff.wait_for_selector("body[data-ready]")
    row = staff.locator("#recent-feedback tbody tr", has_text="show pump 2 flow")
    row.wait_for()
    assert "ana" in row.inner_text()
    assert "up" in row.inner_text()
    assert staff.locator("#feedback-chart canvas").count() == 1
    assert staff.get_by_role("button", name="Approve training").is_visible()
    staff_watched.assert_clean()
    watched.assert_clean()


# A stand-in for the browser's speech recognition (the test machine has no microphone or speech service):
# it hears `window.__heard` when started, or fails with `window.__recognitionError`.
RECOGNITION = """
class StandInRecognition {
  start() {
    setTimeout(() => {
      if (window.__recognitionError) { this.onerror({ error: window.__recognitionError }); this.onend(); return; }
      this.onresult({ results: [[{ transcript: window.__heard ?? "" }]] });
    }, 50);
  }
  stop() { setTimeout(() => this.onend(), 10); }
}
window.SpeechRecognition = StandInRecognition;
window.__heard = "show chiller one power";
"""


def test_push_to_talk_shows_the_transcript_to_edit_before_sending_and_mute_is_remembered(open_console, console_server):
    page, watched = open_console("ana", init_script=RECOGNITION + SPOKEN)
    talk = page.get_by_role("button", name="Hold to talk")
    talk.hover()
    page.mouse.down()
    page.wait_for_function("document.getElementById('question').value !== ''")
    page.mouse.up()
    assert page.get_by_role("textbox", name="Question").input_value() == "show chiller one power"
    assert page.locator(".answer").count() == 0  # heard, not sent: the operator checks it first
    page.get_by_role("textbox", name="Question").fill("show chiller 1 power")
    page.get_by_label("Mute voice").check()
    ask(page, "show chiller 1 power")
    assert page.evaluate("window.__spoken") == []
    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert page.get_by_label("Mute voice").is_checked()

    page.evaluate("window.__recognitionError = 'network'")
    talk.hover()
    page.mouse.down()
    page.mouse.up()
    assert "cannot be reached" in page.get_by_role("alert").inner_text()
    watched.assert_clean()


def test_without_speech_recognition_the_microphone_is_hidden_and_a_server_failure_is_said(open_console, console_server):
    no_recognition = "delete window.SpeechRecognition; delete window.webkitSpeechRecognition;"
    page, watched = open_console("ana", init_script=no_recognition)
    assert page.locator("#talk").is_hidden()
    page.route("**/api/layer2/orchestrate/", lambda route: route.abort("connectionrefused"))
    page.get_by_role("textbox", name="Question").fill("Show chiller 1 power")
    page.get_by_role("textbox", name="Question").press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "cannot be reached" in alert.inner_text()
    watched.errors[:] = [e for e in watched.errors if "ERR_CONNECTION_REFUSED" not in e]
    watched.assert_clean()


def test_a_signed_out_visitor_is_sent_to_sign_in_and_a_wrong_password_is_refused(open_console, console_server):
    page, watched = open_console("ana", sign_in=False)
    assert "/accounts/login/" in page.url
    page.get_by_label("User name").fill("ana")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "enter a correct username and password" in page.get_by_role("alert").inner_text().lower()
    sign_in_as(page, "ana")
    assert page.locator("#question").is_visible()
    assert json.loads(page.locator("#console-config").inner_text())["account"]["username"] == "ana"
    watched.assert_clean()


def test_the_learning_view_draws_tier1s_loss_when_tier1_runs(browser, plant_conninfo, static_root, tmp_path):
    from command_center.local_server import start_local_server
    from tests.layer2.console.conftest import PASSWORD

    server = start_local_server(
        timeseries_url=plant_conninfo, state_dir=tmp_path / "state", workers=1, STATIC_ROOT=str(static_root),
        ENABLE_CONTINUOUS_RL="true",
    )  # fmt: skip
    try:
        token = server.create_user("sam", "--staff", password=PASSWORD)
        for _ in range(3):  # rated answers: Tier 1 learns, so it has a loss to draw
            _, answer, _ = server.request("POST", "/api/layer2/orchestrate/", {"transcript": "Show chiller 1 power"},
                                          token=token)  # fmt: skip
            server.request(
                "POST", "/api/layer2/feedback/", {"query_id": answer["query_id"], "rating": "up"}, token=token
            )
        context = browser.new_context()
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server.base_url + "/learning/")
        sign_in_as(page, "sam")
        page.wait_for_selector("#loss-chart canvas")
        assert page.locator("#tier1-detail").inner_text() == ""
        assert errors == []
        context.close()
    finally:
        server.stop()
