"""Synthetic multichannel journeys with ground truth, and loaders for shipped/reference data.

Examples
--------
>>> from journeymine import datasets
>>> data = datasets.make_journeys(n_customers=100, days=30, random_state=0)
>>> set(data.events["channel"].unique()) <= set(datasets.CHANNELS)
True
"""

from journeymine.datasets._deciders import (
    FixedPriority,
    Oracle,
    PolicyDecider,
    RandomEligible,
    impact_experiment,
)
from journeymine.datasets._designs import (
    ACTIVITIES,
    CHANNELS,
    JOURNEYS,
    PERSONAS,
    Incident,
    default_incidents,
)
from journeymine.datasets._generator import SyntheticJourneys, make_journeys
from journeymine.datasets._loaders import (
    eventlogs_dir,
    load_sample,
    sample_dir,
    sample_policy,
    sample_policy_path,
    save_journeys,
    saved_files,
)
from journeymine.datasets._simulate import (
    Simulation,
    World,
    days_to_reach,
    make_world,
    sim_policy,
    simulate,
)

__all__ = [
    "ACTIVITIES",
    "CHANNELS",
    "JOURNEYS",
    "PERSONAS",
    "FixedPriority",
    "Incident",
    "Oracle",
    "PolicyDecider",
    "RandomEligible",
    "Simulation",
    "SyntheticJourneys",
    "World",
    "days_to_reach",
    "default_incidents",
    "eventlogs_dir",
    "impact_experiment",
    "load_sample",
    "make_journeys",
    "make_world",
    "sample_dir",
    "sample_policy",
    "sample_policy_path",
    "save_journeys",
    "saved_files",
    "sim_policy",
    "simulate",
]
