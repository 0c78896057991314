"""Off-policy estimates of a candidate policy's reward from logged experiences.

The logged decision is each answer's **first** widget: the policy that served
drew it from the candidates with a recorded propensity ``p``, and it earned a
reward ``r`` (its per-widget reward, ``rl/experiences/reward.py``). For a candidate policy
π (a Tier 1 scorer's softmax) with reward model q̂ (the same scorer's
predictions)::

    IPS = mean( π(a|x) / p · r )
    DR  = mean( Σ_b π(b|x) q̂(x, b)  +  π(a|x) / p · (r − q̂(x, a)) )

IPS is unbiased when every action π may take had p > 0 under the logging
policy; the rule ranking is deterministic (p = 1 for its own pick, 0 for the
rest), so against rule-served logs only the agreeing choices carry weight and
DR, which falls back on q̂ elsewhere, is the estimate to read. Importance
weights are clipped at ``MAX_WEIGHT`` to bound the variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layer2.planning.planner import Candidate
from rl.experiences.records import Experience
from rl.experiences.reward import widget_rewards
from rl.tier1.scorer import Tier1Learner

MAX_WEIGHT = 20.0


@dataclass(frozen=True)
class PolicyEstimate:
    samples: int
    logged_reward: float | None  # what the serving policy earned on these decisions
    ips: float | None
    doubly_robust: float | None


def estimate(*, learner: Tier1Learner, experiences: list[Experience]) -> PolicyEstimate:
    logged, ips, dr = [], [], []
    for experience in experiences:
        decision = _first_decision(experience)
        if decision is None:
            continue
        candidates, action, propensity, reward = decision
        scores = learner.scores(experience.intent, candidates, experience.user_role)  # (n,) q̂ for every candidate
        logits = scores / learner.temperature
        policy = np.exp(logits - logits.max())
        policy /= policy.sum()
        weight = min(policy[action] / propensity, MAX_WEIGHT)
        logged.append(reward)
        ips.append(weight * reward)
        dr.append(float(policy @ scores) + weight * (reward - scores[action]))
    if not logged:
        return PolicyEstimate(0, None, None, None)
    return PolicyEstimate(len(logged), float(np.mean(logged)), float(np.mean(ips)), float(np.mean(dr)))


def _first_decision(experience: Experience):
    """(candidates, index of the first shown widget, its propensity, its reward) or None."""
    if not experience.widgets or not experience.candidates or experience.feedback is None:
        return None
    first = experience.widgets[0]
    candidates = [Candidate(c.widget_type, c.size, (), None, c.metric, c.rule_score) for c in experience.candidates]
    matches = [i for i, c in enumerate(candidates)
               if (c.widget_type, c.size, c.metric) == (first.widget_type, first.size, first.metric)]  # fmt: skip
    rewards = widget_rewards(experience)
    if not matches or not rewards or first.propensity <= 0:
        return None
    return candidates, matches[0], first.propensity, rewards[0].reward
