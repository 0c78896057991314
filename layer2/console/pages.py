"""The console's pages: sign-in (Django's own, with the API's failed-sign-in throttle), the console, and the
staff's learning view. Data comes from the JSON API; these views only render the page and its configuration."""

from __future__ import annotations

import math

from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.contrib.auth.views import LoginView
from django.views.generic import TemplateView

from command_center.throttling import FailedSignInThrottle
from layer2.console.page_config import console_config


class SignInView(LoginView):
    """Django's sign-in form; an address that failed too often is told to wait (429), as a token sign-in is."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if (wait := FailedSignInThrottle().wait_before_trying(request)) is not None:
            form = self.get_form()
            form.full_clean()
            form.add_error(None, f"Too many failed sign-ins from this address: try again in {math.ceil(wait)} s.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        FailedSignInThrottle().failed(self.request)
        return super().form_invalid(form)


class ConsolePage(LoginRequiredMixin, TemplateView):
    """Ask, see the widget plan, hear the answer, rate it."""

    template_name = "layer2/console.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "config": console_config(user=self.request.user)}


class LearningPage(LoginRequiredMixin, UserPassesTestMixin, TemplateView):
    """The learning loop as pictures, with Tier 2's controls: staff only (others get 403)."""

    template_name = "layer2/learning.html"

    def test_func(self) -> bool:
        return self.request.user.is_staff

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "config": console_config(user=self.request.user)}
