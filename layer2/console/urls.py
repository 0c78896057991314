from django.contrib.auth.views import LogoutView
from django.urls import path

from layer2.console import pages

urlpatterns = [
    path("", pages.ConsolePage.as_view(), name="console"),
    path("learning/", pages.LearningPage.as_view(), name="learning"),
    path("accounts/login/", pages.SignInView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
]
