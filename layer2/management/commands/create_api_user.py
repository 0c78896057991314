"""Create (or reuse) an API user and print their token."""

import os
import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from layer2.models import OperatorProfile
from layer2.rights import JUDGE_NAME, feedback_source, is_judge, make_judge
from layer2.understanding.roles import ROLES


class Command(BaseCommand):
    help = "Create an API user (or reuse an existing one) and print their token for the Authorization header."

    def add_arguments(self, parser):
        parser.add_argument("username", help="User name, e.g. 'operator' or 'evaluator'.")
        parser.add_argument(
            "--staff", action="store_true", help="Staff read everyone's answers and may approve Tier 2 training."
        )
        parser.add_argument(
            "--judge",
            action="store_true",
            help="A judge account (for auto_evaluate_responses.py): reads every answer and posts evaluations of "
            "any, recorded as judge:<username>. Its name must be letters, digits, '.', '-' or '_'.",
        )
        parser.add_argument(
            "--role",
            choices=ROLES,
            help="The user's role at the plant; answers are ranked for it (an existing role is kept if omitted).",
        )
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help="Set the console sign-in password from this environment variable (not the command line, which "
            "other users of the machine can read). Without it, an existing password is kept; a new user has none "
            "and can use only the token.",
        )
        parser.add_argument("--quiet", action="store_true", help="Print only the token (for scripts).")

    def handle(self, *args, **options):
        username = options["username"].strip()
        if not username or len(username) > 150:
            raise CommandError("username must be 1 to 150 characters")
        if options["judge"] and not re.fullmatch(JUDGE_NAME, username):
            raise CommandError("a judge's username must be 1 to 48 letters, digits, '.', '-' or '_' (its source name)")
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
        if options["staff"] and not user.is_staff:
            user.is_staff = True
        if options["password_env"]:
            user.set_password(_password(options["password_env"]))
        user.save()
        if options["role"]:
            OperatorProfile.objects.set_role(user=user, role=options["role"])
        if options["judge"]:
            make_judge(user)
        token, _ = Token.objects.get_or_create(user=user)
        if options["quiet"]:
            self.stdout.write(token.key)
            return
        details = (
            ["created" if created else "exists"]
            + ["staff"] * user.is_staff
            + [f"judge, posts as {feedback_source(user)}"] * is_judge(user)
            + [OperatorProfile.objects.role_of(user) or "no role"]
        )
        self.stdout.write(f"User {username} ({', '.join(details)}); token: {token.key}")


def _password(variable: str) -> str:
    password = os.environ.get(variable, "")
    if len(password) < 8:
        raise CommandError(f"--password-env {variable}: the variable must hold a password of at least 8 characters")
    return password
