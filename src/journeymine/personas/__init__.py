"""Dynamic behavioural personas: customer features, clustering, profiles and tracking.

- :class:`CustomerFeaturizer`: per-customer behaviour features (scikit-learn transformer), built
  from exact integer aggregates (DuckDB) and a shared numpy step
  (:func:`features_from_aggregates`)
- :class:`PersonaMiner`: feature families weighted equally -> PCA -> a Gaussian mixture whose
  persona count is chosen by reproducibility (or HDBSCAN, ``method="density"``); ``-1`` = no
  persona
- :func:`merge_personas`: two personas of a fitted mixture made one, without refitting
- :func:`persona_profiles`: distinguishing features, channels, typical journeys, readable names
- :func:`track_personas`: per-window personas with stable ids, births/deaths/splits/merges and
  customer migration
- :func:`persona_validity`: do the personas predict a future outcome, against and on top of
  recency/frequency/value (cross-validated AUC with bootstrap intervals), and are they stable?
"""

from journeymine.personas.dynamic import track_personas
from journeymine.personas.features import (
    CustomerFeaturizer,
    FeatureSpec,
    compute_aggregates,
    features_from_aggregates,
)
from journeymine.personas.mining import DEFAULT_PERSONA_FEATURES, PersonaMiner
from journeymine.personas.persona_merge import merge_personas
from journeymine.personas.profiles import persona_profiles
from journeymine.personas.tracks import PersonaTracks
from journeymine.personas.validity import PersonaValidity, persona_validity

__all__ = [
    "DEFAULT_PERSONA_FEATURES",
    "CustomerFeaturizer",
    "FeatureSpec",
    "PersonaMiner",
    "PersonaTracks",
    "PersonaValidity",
    "compute_aggregates",
    "features_from_aggregates",
    "merge_personas",
    "persona_profiles",
    "persona_validity",
    "track_personas",
]
