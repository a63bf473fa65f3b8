"""Recommendations the LP writes on the demo distributor are approved by the governed use case as they are."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from services.approvals.decide import approve_recommendation
from services.approvals.errors import ApprovalRefused
from services.auth.roles import Actor, Role
from services.recommend.run import recommend
from tests.builders import make_user
from tests.demo import DEMO_AS_OF, load_small_demo


@pytest.fixture
def demo_recommendations(engine, tmp_path):
    load_small_demo(engine, tmp_path)
    return recommend(engine, as_of=DEMO_AS_OF)


def test_fresh_recommendations_of_every_action_are_not_stale(engine, demo_recommendations):
    with engine.begin() as connection:
        leader = make_user(connection, role="operations_leader", approval_limit=Decimal("1000000"))
        firsts = connection.execute(text(
            "select distinct on (action) id, action from recommendations"
            " where status = 'proposed' order by action, id"
        )).all()
    actor = Actor(leader["username"], Role.OPERATIONS_LEADER, Decimal("1000000"), leader["id"])

    outcomes = {}
    for recommendation_id, action in firsts:
        try:
            approve_recommendation(engine, actor, recommendation_id)
            outcomes[action] = "approved"
        except ApprovalRefused as refused:
            outcomes[action] = str(refused)

    assert set(demo_recommendations.by_action) == {"allocate", "transfer", "substitute", "split", "expedite", "escalate"}
    assert set(outcomes) == set(demo_recommendations.by_action)
    assert outcomes == {action: "approved" for action in outcomes}
    with engine.connect() as connection:
        statuses = dict(connection.execute(text(
            "select r.action, r.status from recommendations r join decisions d on d.recommendation_id = r.id"
        )).all())
    assert statuses == {action: "approved" for action in outcomes}
