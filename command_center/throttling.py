"""Request throttles every worker and process on the host shares, and a throttle on failed sign-ins.

DRF's own throttles keep each client's full request history (a list of up to ``rate`` timestamps) in the
cache and rewrite it on every request: with the default per-process cache each gunicorn worker counted for
itself (three workers let three times the rate through), and a shared 6000/minute history would cost
milliseconds a request to read and write. These count in two fixed windows instead, weighting the
previous one by how much of it still overlaps the sliding window (the "sliding window counter"): O(1) a
request, within a few percent of an exact sliding log.

The counts live in one SQLite file in the state folder (``THROTTLE_COUNTS_PATH``) that every process on
the host opens, or, when Django's database is PostgreSQL, in a table there that every host shares
(``command_center/throttle_counts.py``); a check and its count are one transaction, so two workers never
let the same last request through. Clients are told apart by address: ``REMOTE_ADDR``,
or the address ``TRUSTED_PROXY_COUNT`` trusted proxies put in ``X-Forwarded-For`` (DRF's ``NUM_PROXIES``);
a header from anyone else is ignored, so a fresh ``X-Forwarded-For`` does not reset anything.
"""

from __future__ import annotations

import math

from rest_framework import throttling
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from command_center.throttle_counts import CountStore, throttle_counts


def _store() -> CountStore:
    return throttle_counts()


class SlidingWindowThrottle(throttling.SimpleRateThrottle):
    """A DRF throttle counting requests per client in a sliding window (see the module docstring)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        window, into = self._windows(self.timer())
        slots = [f"{key}:{window - 1}", f"{key}:{window}"]
        waits = []

        def fits(counts: list[int]) -> bool:
            waits.append(self._wait_for(counts, into))
            return waits[-1] is None

        allowed = _store().bump_if(slots[1], read=slots, allowed=fits, expires=(window + 2) * self.duration)
        self._wait = waits[-1]
        return allowed

    def wait(self) -> float | None:
        return self._wait

    # -- the two windows ---------------------------------------------------------------------------

    def _windows(self, now: float) -> tuple[int, float]:
        """The current window's number and how far into it ``now`` is (0..1)."""
        position = now / self.duration
        return int(position), position - int(position)

    def _wait_for(self, counts: list[int], into: float) -> float | None:
        """None if one more request fits, given the (previous, current) window's counts; else the seconds until
        one does."""
        # A part of a request left of the previous window still counts as a whole one (ceil): otherwise a
        # burst that ends just before a window's edge would get one more request just after it.
        previous, current = counts
        if math.ceil(previous * (1 - into)) + current < self.num_requests:
            return None
        if current >= self.num_requests:  # next window: until ceil(current * (1 - x)) < num_requests
            return (1 - into + 1 - (self.num_requests - 1) / current) * self.duration
        # This window: the previous one's weight falls until ceil(previous * (1 - x)) + current < num_requests.
        return max((1 - (self.num_requests - current - 1) / previous - into) * self.duration, 0.0)


class AnonRateThrottle(SlidingWindowThrottle, throttling.AnonRateThrottle):
    """Requests without credentials, per client address (``THROTTLE_ANON_RATE``)."""


class UserRateThrottle(SlidingWindowThrottle, throttling.UserRateThrottle):
    """Requests of a signed-in user, all their clients together (``THROTTLE_USER_RATE``)."""


class FailedSignInThrottle(SlidingWindowThrottle):
    """Failed token sign-ins per client address (``THROTTLE_FAILED_SIGNIN_RATE``): guessing tokens is slow."""

    scope = "failed_signin"

    def get_cache_key(self, request, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def wait_before_trying(self, request) -> float | None:
        """None if this address may try to sign in now; else the seconds it must wait (a read: no write)."""
        key = self.get_cache_key(request)
        window, into = self._windows(self.timer())
        return self._wait_for(_store().counts([f"{key}:{window - 1}", f"{key}:{window}"]), into)

    def failed(self, request) -> None:
        key = self.get_cache_key(request)
        window, _ = self._windows(self.timer())
        slot = f"{key}:{window}"
        _store().bump_if(slot, read=[slot], allowed=lambda _: True, expires=(window + 2) * self.duration)


class ThrottledTokenAuthentication(TokenAuthentication):
    """DRF's token sign-in, refused with 429 for an address that failed too often in the last window."""

    def authenticate(self, request):
        offered = get_authorization_header(request).split()
        if not offered or offered[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: anonymous (AnonRateThrottle counts it)
        throttle = FailedSignInThrottle()
        if (wait := throttle.wait_before_trying(request)) is not None:
            raise Throttled(wait, detail="Too many failed sign-ins from this address; try again later.")
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.failed(request)
            raise
