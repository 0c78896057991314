"""A live gunicorn killed with SIGKILL under load, again and again: is anything it acknowledged lost?

Shared by tests/rl/experiences/test_kill_durability.py and bench/kill_torture.py. ``kill_torture``
starts the server on a state folder (``command_center.local_server``), lets a few client threads ask
questions and rate their own earlier answers (each answer at most twice, so a re-rating is tested
too), kills the master and its workers at once (``killpg`` of the server's process group) after a
random delay, waits until none of them is left, restarts it on the same state folder and repeats.
After the last kill it restarts once more, asks one question (a writer's append, which cuts any torn
last line) and stops the server gracefully. Then it reads what is on disk, the journal line by line
and with a fresh ``ExperienceBuffer``, the ``WidgetRating`` rows with ``sqlite3``, and counts:

* ``lost_orchestrate``: an answer that returned 200 and is not in the journal;
* ``lost_feedback``: a rating that returned 200 and is not the answer's rating in the journal (unless a
  later rating of the same answer was sent and not acknowledged: it may have landed), or that has no
  ``WidgetRating`` row;
* ``duplicates``: an ``add`` line for a query id already added, and feedback lines or rows beyond the
  ratings sent for an answer;
* ``unparseable_lines``: journal lines that are not JSON (a torn last line included).

A connection error is expected only while the server is being killed or is down; one at another
moment is counted in ``unexpected_connection_errors``. Other figures describe what the kills hit:
answers in the journal that were never acknowledged (killed between the append and the response),
feedback in the journal without its row (killed between the append and the row's commit), torn last
lines found right after a kill.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from command_center.local_server import LocalServer, start_local_server
from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound

# Varied on purpose: statuses, trends, aggregations, a fleet ranking, a diagnosis, alerts, a refusal.
# Units 1 and 2 exist in the test plant and in the bench's.
QUESTIONS = (
    "What's chiller 1 drawing right now?",
    "show me chiller 2 power for the last 24 hours",
    "pump 1 vibration",
    "average motor temperature of pump 2 today",
    "which compressors have abnormal temperatures?",
    "top 2 chillers by power consumption",
    "what's wrong with boiler 1",
    "cooling tower 1 fan speed over the last 6 hours",
    "any alerts in the last 24 hours?",
    "restart pump 1",
)
MAX_RATINGS_PER_ANSWER = 2
# What a request cut by the kill raises: refused, reset or broken connections (OSError, urllib's URLError
# included), a response cut mid-way (http.client's IncompleteRead and friends), a truncated JSON body.
CUT_SHORT = (OSError, http.client.HTTPException, ValueError)


@dataclass
class TortureReport:
    kills: int = 0
    orchestrate_acked: int = 0
    feedback_acked: int = 0
    lost_orchestrate: int = 0
    lost_feedback: int = 0
    duplicates: int = 0
    unparseable_lines: int = 0
    connection_errors: int = 0
    seconds: float = 0.0
    # What the figures above are made of, and what the kills hit.
    duplicate_adds: int = 0
    duplicate_feedback_lines: int = 0
    duplicate_rating_rows: int = 0
    feedback_not_in_journal: int = 0
    feedback_without_row: int = 0
    unexpected_connection_errors: int = 0
    feedback_sent_unacked: int = 0
    unacked_answers_in_journal: int = 0
    unacked_feedback_in_journal_without_row: int = 0
    phantom_feedback: int = 0
    torn_tails_after_kill: int = 0
    journal_lines: int = 0
    journal_experiences: int = 0  # what a fresh ExperienceBuffer reads: one per query id added
    journal_query_ids: int = 0
    restart_seconds_mean: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)  # "orchestrate 200": 812, "feedback 500": 0, ...
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few query ids per kind of loss

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Sent:
    """One feedback request, in the order its client sent it."""

    query_id: str
    rating: str
    acked: bool


@dataclass
class _ClientLog:
    asked: list[str] = field(default_factory=list)  # query ids whose orchestrate returned 200
    rated: list[_Sent] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    unexpected_errors: int = 0


class _Current:
    """The server the clients talk to now; None while it is being killed or restarted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._up = threading.Event()
        self.server: LocalServer | None = None
        self.generation = 0

    def set(self, server: LocalServer) -> None:
        with self._lock:
            self.server, self.generation = server, self.generation + 1
        self._up.set()

    def going_down(self) -> None:
        with self._lock:
            self.server = None
        self._up.clear()

    def wait(self, timeout: float) -> tuple[LocalServer | None, int]:
        self._up.wait(timeout)
        with self._lock:
            return self.server, self.generation

    def still(self, generation: int) -> bool:
        """Whether the server of ``generation`` is up and not being killed."""
        with self._lock:
            return self.server is not None and self.generation == generation


def _client(current: _Current, stop: threading.Event, rng: random.Random, log: _ClientLog) -> None:
    """Ask questions and rate earlier answers of this client's (the same token asked them) until ``stop``."""
    ratings: Counter = Counter()
    while not stop.is_set():
        server, generation = current.wait(timeout=0.2)
        if server is None:
            continue
        rateable = [q for q in log.asked[-20:] if ratings[q] < MAX_RATINGS_PER_ANSWER]
        if rateable and rng.random() < 0.5:
            query_id, rating = rng.choice(rateable), rng.choice(("up", "down"))
            endpoint, body = "feedback", {"query_id": query_id, "rating": rating}
            ratings[query_id] += 1
        else:
            endpoint, body = "orchestrate", {"transcript": rng.choice(QUESTIONS)}
        try:
            status, answer, _ = server.request("POST", f"/api/layer2/{endpoint}/", body)
        except CUT_SHORT:
            log.connection_errors += 1
            log.unexpected_errors += current.still(generation)
            status = None
        if status is not None:
            log.statuses[f"{endpoint} {status}"] += 1
        if endpoint == "feedback":
            log.rated.append(_Sent(body["query_id"], body["rating"], acked=status == 200))
        elif status == 200:
            log.asked.append(answer["query_id"])


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count: they hold nothing)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state not in "ZX":
            return True
    return False


def _kill(server: LocalServer, timeout: float = 10.0) -> None:
    """SIGKILL the master and every worker at once, and wait until none is left."""
    pgid = server.process.pid  # start_new_session: the group is the master's
    os.killpg(pgid, signal.SIGKILL)
    server.process.wait(timeout)
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of group {pgid} outlived SIGKILL for {timeout} s")
        time.sleep(0.01)


def _torn_tail(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as journal:
        journal.seek(-1, os.SEEK_END)
        return journal.read(1) != b"\n"


def kill_torture(
    *,
    timeseries_url: str,
    state_dir: Path,
    kills: int = 20,
    clients: int = 6,
    workers: int = 3,
    seed: int = 0,
    load_seconds: tuple[float, float] = (0.2, 2.0),
    progress: Callable[[str], None] = lambda line: None,
) -> TortureReport:
    """Kill a loaded server ``kills`` times, restart it on ``state_dir`` each time, then count what was lost."""
    started = time.monotonic()
    rng = random.Random(seed)
    current, stop = _Current(), threading.Event()
    logs = [_ClientLog() for _ in range(clients)]
    threads = [
        threading.Thread(target=_client, args=(current, stop, random.Random(f"{seed}-{i}"), log), daemon=True)
        for i, log in enumerate(logs)
    ]
    report, journal, restarts, server = TortureReport(), state_dir / "experiences.jsonl", [], None
    for thread in threads:
        thread.start()
    try:
        for kill in range(1, kills + 1):
            restart_started = time.monotonic()
            server = start_local_server(timeseries_url=timeseries_url, state_dir=state_dir, workers=workers)
            restarts.append(time.monotonic() - restart_started)
            current.set(server)
            delay = rng.uniform(*load_seconds)
            time.sleep(delay)
            current.going_down()
            _kill(server)
            server = None
            report.kills = kill
            report.torn_tails_after_kill += _torn_tail(journal)
            progress(
                f"kill {kill}/{kills} after {delay:.2f} s of load: "
                f"{sum(len(log.asked) for log in logs)} orchestrate and "
                f"{sum(s.acked for log in logs for s in log.rated)} feedback acknowledged, "
                f"{sum(log.connection_errors for log in logs)} connection errors"
            )
    finally:
        stop.set()
        current.going_down()
        if server is not None:  # an error mid-cycle: kill first, so no client waits on a request
            _kill(server)
        for thread in threads:
            thread.join(timeout=90)
    # One more start and one more append: the writer cuts a torn last line, so the journal reads clean.
    server = start_local_server(timeseries_url=timeseries_url, state_dir=state_dir, workers=1)
    try:
        status, answer, _ = server.request("POST", "/api/layer2/orchestrate/", {"transcript": QUESTIONS[0]})
        if status != 200:
            raise RuntimeError(f"the restarted server answered {status}: {answer}")
        logs[0].asked.append(answer["query_id"])
        logs[0].statuses["orchestrate 200"] += 1
    finally:
        server.stop()
    _verify(report, logs, state_dir)
    report.restart_seconds_mean = round(sum(restarts) / max(len(restarts), 1), 2)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _verify(report: TortureReport, logs: list[_ClientLog], state_dir: Path) -> None:
    """Count what was acknowledged and what of it is on disk (see the module docstring)."""
    journal = state_dir / "experiences.jsonl"
    noted: defaultdict[str, list[str]] = defaultdict(list)

    def note(kind: str, query_id: str) -> None:
        setattr(report, kind, getattr(report, kind) + 1)
        noted[kind].append(query_id)

    acked = [q for log in logs for q in log.asked]
    sent: defaultdict[str, list[_Sent]] = defaultdict(list)  # each answer is rated by the client that asked it
    for log in logs:
        for s in log.rated:
            sent[s.query_id].append(s)
    report.orchestrate_acked = len(acked)
    report.feedback_acked = sum(s.acked for ratings in sent.values() for s in ratings)
    report.feedback_sent_unacked = sum(not s.acked for ratings in sent.values() for s in ratings)
    report.connection_errors = sum(log.connection_errors for log in logs)
    report.unexpected_connection_errors = sum(log.unexpected_errors for log in logs)
    report.statuses = dict(sorted(sum((log.statuses for log in logs), Counter()).items()))

    # The raw journal: every line JSON, one add per query id, no more feedback lines than ratings sent.
    adds, feedback_lines = Counter(), Counter()
    lines = journal.read_bytes().splitlines(keepends=True)
    report.journal_lines = len(lines)
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            report.unparseable_lines += 1
            continue
        if record["op"] == "add":
            adds[record["experience"]["query_id"]] += 1
        else:
            feedback_lines[record["query_id"]] += 1
    report.journal_query_ids = len(adds)
    for query_id, count in adds.items():
        for _ in range(count - 1):
            note("duplicate_adds", query_id)
    for query_id, count in feedback_lines.items():
        if count > len(sent.get(query_id, ())):
            (note("duplicate_feedback_lines", query_id) if query_id in sent else note("phantom_feedback", query_id))

    # A fresh reader, as a restarted worker sees the journal.
    buffer = ExperienceBuffer(journal)
    acked_set = set(acked)
    for query_id in acked:
        if query_id not in adds or query_id not in buffer:
            note("lost_orchestrate", query_id)
    report.unacked_answers_in_journal = len(set(adds) - acked_set)
    report.journal_experiences = sum(1 for _ in buffer.iter_all())  # each add read back as an Experience

    rows: defaultdict[str, list[str]] = defaultdict(list)
    with sqlite3.connect(f"file:{state_dir / 'default.sqlite3'}?mode=ro", uri=True) as db:
        for query_id, rating in db.execute("SELECT query_id, rating FROM layer2_widgetrating ORDER BY id"):
            rows[query_id].append(rating)
    for query_id, ratings in sent.items():
        try:
            feedback = buffer.get(query_id).feedback
        except ExperienceNotFound:
            feedback = None
        last_acked = max((i for i, s in enumerate(ratings) if s.acked), default=None)
        if last_acked is not None:
            allowed = {ratings[last_acked].rating} | {s.rating for s in ratings[last_acked + 1 :]}
            if feedback is None or feedback.rating not in allowed:
                note("feedback_not_in_journal", query_id)
            if Counter(s.rating for s in ratings if s.acked) - Counter(rows[query_id]):
                note("feedback_without_row", query_id)
        if len(rows[query_id]) > len(ratings):
            note("duplicate_rating_rows", query_id)
        if feedback is not None and len(rows[query_id]) < feedback_lines[query_id]:
            note("unacked_feedback_in_journal_without_row", query_id)
    for query_id in set(rows) - set(sent):
        note("phantom_feedback", query_id)

    report.lost_feedback = len({*noted.get("feedback_not_in_journal", ()), *noted.get("feedback_without_row", ())})
    report.duplicates = report.duplicate_adds + report.duplicate_feedback_lines + report.duplicate_rating_rows
    report.examples = {kind: ids[:5] for kind, ids in noted.items()}
