"""Shared seeded data for the persona tests (generated once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from journeymine.datasets import SyntheticJourneys, make_journeys


@pytest.fixture(scope="session")
def stable_data() -> tuple[SyntheticJourneys, pd.DataFrame]:
    """4,000 customers over 180 days, restricted to customers whose persona never changes.

    ``make_journeys(persona_change_share=0)`` currently fails inside the generator (building
    ``customers.changed_at`` when nobody changes), so we generate with the default share and
    keep only unchanged customers: customers are simulated independently, so this is a log in
    which nothing changes.
    """
    data = make_journeys(n_customers=4000, days=180, persona_change_share=0.1, random_state=0)
    keep = data.customers.loc[~data.customers["changed"], "customer_id"]
    events = data.events[data.events["customer_id"].isin(set(keep))].reset_index(drop=True)
    return data, events
