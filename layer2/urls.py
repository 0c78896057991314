from django.urls import path

from layer2 import views

urlpatterns = [
    path("orchestrate/", views.OrchestrateView.as_view(), name="orchestrate"),
    path("feedback/", views.FeedbackView.as_view(), name="feedback"),
    path("signals/", views.SignalsView.as_view(), name="signals"),
    path("experiences/", views.ExperiencesView.as_view(), name="experiences"),
    path("account/", views.AccountView.as_view(), name="account"),
    path("rl-status/", views.RLStatusView.as_view(), name="rl-status"),
    path("approve-training/", views.ApproveTrainingView.as_view(), name="approve-training"),
    path("learning-history/", views.LearningHistoryView.as_view(), name="learning-history"),
    path("planner-adapters/promote/", views.PromoteAdapterView.as_view(), name="planner-adapters-promote"),
    path("planner-adapters/rollback/", views.RollbackAdapterView.as_view(), name="planner-adapters-rollback"),
]
