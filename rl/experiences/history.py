"""The learning loop over time, from the experience journal: answers, ratings and rewards per hour or day, and
the newest feedback (what ``GET /api/layer2/learning-history/`` shows staff).

An answer counts in the bucket of its ``created_at`` (UTC), and so do its rating and evaluation, however late
they came: a bucket says how the answers given then were received. The reward is
``rl.experiences.reward.plan_reward``, what Tier 1 learns from: the extended reward for an answer with a rich
evaluation, else the basic one (+1 up, −1 down).

Cost: answers are counted from the buffer's index (``created_times``: nothing read from disk); only the rated
answers of the window are read (``list(since=..., has_feedback=True)``), about 0.1 ms each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rl.experiences.buffer import ExperienceBuffer, ExperienceNotFound
from rl.experiences.records import Experience
from rl.experiences.reward import plan_reward

BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
RECENT_SCAN = 200  # newest feedback records looked at for the newest answers rated


@dataclass(frozen=True)
class Bucket:
    start: datetime  # UTC, on the hour (or at midnight)
    answers: int
    ratings_up: int
    ratings_down: int
    evaluations: int  # answers holding a rich evaluation (a judge's, or one posted with its fields)
    mean_reward: float | None  # plan_reward over the rated answers (ratings_up + ratings_down); None: none rated


@dataclass(frozen=True)
class RewardPoint:
    start: datetime
    rated: int
    mean_reward: float


@dataclass(frozen=True)
class FeedbackWindow:
    bucket: str
    since: datetime  # the first bucket's start: the window, widened to whole buckets
    until: datetime
    buckets: list[Bucket]  # every bucket of the window, oldest first, empty ones included
    rated: list[Experience]  # the window's rated answers, oldest first (for trends of a part of them)


def bucket_start(moment: datetime, bucket: str) -> datetime:
    """The start of the UTC hour or day holding ``moment``."""
    start = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if bucket == "day" else start


def feedback_window(*, buffer: ExperienceBuffer, now: datetime, hours: int, bucket: str) -> FeedbackWindow:
    """The buckets from the one holding ``now - hours`` to the one holding ``now``."""
    width = BUCKETS[bucket]
    since, last = bucket_start(now - timedelta(hours=hours), bucket), bucket_start(now, bucket)
    starts = [since + i * width for i in range((last - since) // width + 1)]
    answers: dict[datetime, int] = defaultdict(int)
    for created in buffer.created_times(since=since):
        answers[bucket_start(created, bucket)] += 1
    rated = buffer.list(has_feedback=True, since=since, limit=buffer.capacity)
    by_start: dict[datetime, list[Experience]] = defaultdict(list)
    for experience in rated:
        by_start[bucket_start(experience.created_at, bucket)].append(experience)
    buckets = [
        Bucket(
            start=start,
            answers=answers[start],
            ratings_up=sum(e.rating == "up" for e in by_start[start]),
            ratings_down=sum(e.rating == "down" for e in by_start[start]),
            evaluations=sum(e.has_evaluation for e in by_start[start]),
            mean_reward=_mean_reward(by_start[start]),
        )
        for start in starts
    ]
    return FeedbackWindow(bucket=bucket, since=since, until=now, buckets=buckets, rated=rated)


def reward_trend(window: FeedbackWindow, *, where: Callable[[Experience], bool]) -> list[RewardPoint]:
    """The mean reward per bucket of the window's rated answers that ``where`` keeps (buckets without one left out)."""
    by_start: dict[datetime, list[Experience]] = defaultdict(list)
    for experience in filter(where, window.rated):
        by_start[bucket_start(experience.created_at, window.bucket)].append(experience)
    return [
        RewardPoint(start=b.start, rated=len(by_start[b.start]), mean_reward=_mean_reward(by_start[b.start]))
        for b in window.buckets
        if by_start[b.start]
    ]


def recent_feedback(*, buffer: ExperienceBuffer, limit: int = 20) -> list[Experience]:
    """The ``limit`` answers whose feedback arrived last, newest first.

    Candidates are the answers named by the newest feedback records this process has indexed (a late rating of
    an old answer among them) and the newest answers rated (after a compaction merged the feedback records into
    their answers); each is ordered by its feedback's ``received_at``.
    """
    query_ids, _ = buffer.feedback_since(max(0, buffer.feedback_cursor() - RECENT_SCAN))
    found: dict[str, Experience] = {}
    for query_id in dict.fromkeys(reversed(query_ids)):
        if len(found) >= limit:
            break
        try:
            found[query_id] = buffer.get(query_id)
        except ExperienceNotFound:
            continue  # evicted since
    for experience in buffer.list(has_feedback=True, limit=limit, newest_first=True):
        found.setdefault(experience.query_id, experience)
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found.values(), key=lambda e: e.feedback.received_at or oldest, reverse=True)[:limit]


def _mean_reward(experiences: list[Experience]) -> float | None:
    if not experiences:
        return None
    return sum(plan_reward(e.feedback) for e in experiences) / len(experiences)
