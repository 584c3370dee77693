"""Dynamic behavioural personas: customer features, clustering, profiles and tracking.

- :class:`CustomerFeaturizer`: per-customer behaviour features (scikit-learn transformer), built
  from exact integer aggregates (DuckDB) and a shared numpy step
  (:func:`features_from_aggregates`)
"""

from journeymine.personas.features import (
    CustomerFeaturizer,
    FeatureSpec,
    compute_aggregates,
    features_from_aggregates,
)

__all__ = [
    "CustomerFeaturizer",
    "FeatureSpec",
    "compute_aggregates",
    "features_from_aggregates",
]
