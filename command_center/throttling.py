"""Request throttles every worker and process on the host shares, and a throttle on failed sign-ins.

DRF's own throttles keep each client's full request history (a list of up to ``rate`` timestamps) in the
cache and rewrite it on every request: with the default per-process cache each gunicorn worker counted for
itself (three workers let three times the rate through), and in a shared file cache a 6000/minute history
costs milliseconds a request to read and write. These count in two fixed windows instead, weighting the
previous one by how much of it still overlaps the sliding window (the "sliding window counter"): O(1) a
request, within a few percent of an exact sliding log.

The counts live in Django's ``default`` cache (``CACHES`` in settings: a file cache in the state folder,
shared by every process on the host), read and updated under a host-wide file lock so two workers never
count the same slot twice. Clients are told apart by address: ``REMOTE_ADDR``, or the address
``TRUSTED_PROXY_COUNT`` trusted proxies put in ``X-Forwarded-For`` (DRF's ``NUM_PROXIES``); a header from
anyone else is ignored, so a fresh ``X-Forwarded-For`` does not reset anything.
"""

from __future__ import annotations

import functools
import os

from django.conf import settings
from filelock import FileLock
from rest_framework import throttling
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled


@functools.cache
def _host_lock(pid: int) -> FileLock:
    """One lock object per process (``pid``: a forked worker makes its own); the file is the host's."""
    path = settings.STATE_DIR / "throttle.lock"
    return FileLock(str(path), thread_local=False)


class SlidingWindowThrottle(throttling.SimpleRateThrottle):
    """A DRF throttle counting requests per client in a sliding window (see the module docstring)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        self.key = key
        with _host_lock(os.getpid()):
            wait = self._wait_for(self.timer())
            if wait is None:
                self._count()
        self._wait = wait
        return wait is None

    def wait(self) -> float | None:
        return self._wait

    # -- the two windows ---------------------------------------------------------------------------

    def _windows(self, now: float) -> tuple[int, float]:
        """The current window's number and how far into it ``now`` is (0..1)."""
        position = now / self.duration
        return int(position), position - int(position)

    def _wait_for(self, now: float) -> float | None:
        """None if one more request fits in the window ending ``now``; else the seconds until one does."""
        window, into = self._windows(now)
        previous = self.cache.get(f"{self.key}:{window - 1}", 0)
        current = self.cache.get(f"{self.key}:{window}", 0)
        if previous * (1 - into) + current < self.num_requests:
            return None
        if current >= self.num_requests:  # next window: until current * (1 - x) < num_requests
            return (1 - into + 1 - self.num_requests / current) * self.duration
        # This window: the previous one's weight falls until previous * (1 - x) + current < num_requests.
        return max((1 - (self.num_requests - current) / previous - into) * self.duration, 0.0)

    def _count(self) -> None:
        window, _ = self._windows(self.timer())
        slot = f"{self.key}:{window}"
        self.cache.set(slot, self.cache.get(slot, 0) + 1, timeout=int(2 * self.duration) + 1)


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
        """None if this address may try to sign in now; else the seconds it must wait."""
        self.key = self.get_cache_key(request)
        with _host_lock(os.getpid()):
            return self._wait_for(self.timer())

    def failed(self, request) -> None:
        self.key = self.get_cache_key(request)
        with _host_lock(os.getpid()):
            self._count()


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
