"""What changed, where, when and how sure: comparing periods or segments, and scanning for
incidents over time.

:func:`compare_periods` and :func:`compare_segments` compare two slices of a log on
the same metrics:

=========== ================================================ ===================== ============
metric      value                                            test                  effect
=========== ================================================ ===================== ============
edges       P(target | source): share of ``source`` events    two-proportion z-test Cohen's h
            directly followed by ``target`` in the session
activities  events of the activity per active customer         Mann-Whitney U on     rank-biserial
            (active: any event in the slice)                  per-customer counts   correlation
funnel      share of customers reaching a step who then       two-proportion z-test Cohen's h
            reach the next one (any channel, in order)
durations   session duration (first to last event), median    Mann-Whitney U        rank-biserial
=========== ================================================ ===================== ============

Every comparison is tested and the p-values of one call are corrected together with
Benjamini-Hochberg (``q_value``).

:func:`detect_changes` scans the log over time. For every channel (every ``by`` group, and
segment) it builds a series per time bin of

- **edges**: successes = ``source -> target`` transitions, trials = ``source`` events
  (binomial), for the frequent edges;
- **conversions**: sessions with ``a`` in which ``b`` follows, out of sessions with ``a``
  (binomial), for the pairs given;
- **journeys**: sessions with a path's first step that go on through its steps in order to
  its last, out of sessions with the first step (binomial); the paths are the ``funnel``
  given (whole and step by step) or the top 3 paths to the log's goal activity (the last two
  distinct steps before the goal);
- **errors**: sessions with an error/support activity, out of all sessions (binomial);
- **step_times**: transitions of an edge slower than its median time, out of all its
  transitions (binomial; a slowdown is a rise);
- **volumes**: events of an activity (Poisson) per customer active in the bin (any channel;
  an event tagged with a ``journey_id``, such as an outbound e-mail, does not make its
  customer active).

Defaults scale with the log: the bin width comes from its span (daily from 14 to 400 days),
the support a series needs from its size (one event in 5,000, at least 30), the shortest
change is two bins. With daily bins each series' weekday rhythm is removed first (the
weekday rates, shrunk towards the overall rate by a positive-part James-Stein factor).

On each series it finds the interval of bins whose rate departs most from the rest of the
series (the maximum likelihood ratio over all intervals, an "epidemic" change-point scan),
keeping only departures that matter (Cohen's h >= ``min_effect``, rate ratio >= ``min_ratio``),
last at least ``min_duration`` and are consistent (most of their bins depart on their own, so
that one extreme bin cannot make a long interval look changed) and depart and return (the
bins just before and after are not changed the same way). The evidence is the
likelihood-ratio deviance (without the interval's most extreme bin) divided by the series'
dispersion: the overdispersion of the baseline bins (Pearson chi-square) times the variance
inflation that the autocorrelation of their residuals gives a sum over the interval's length
(Bartlett weights, lags up to 7). The p-value is that of the maximum of the scan over a series
without change: simulated once per bin layout (1,000 Gaussian series, the same intervals),
its tail ``K d^1.5 exp(-d/2)`` fitted at the 90th percentile, and never above the Bonferroni
bound over the intervals. A detection near the threshold (p-value above 1e-8 and significant
after Benjamini-Hochberg) is re-checked against its series' own null: the bins outside the
series' detections resampled in blocks of at least a week (circular block bootstrap, 200
series scanned with the same filters), and the larger p-value kept. Detections are then
found again on the rest of the series (up to ``max_changes``), adjacent detections of the
same direction are merged, and Benjamini-Hochberg corrects over all series. Detections on the
same channel (``by`` group) that overlap in time are grouped into one ``incident``, ranked by
evidence.

What was scanned, skipped (and why) and the smallest detectable change per series are in
the result's ``.attrs["scan"]`` (see :func:`detect_changes`).
"""

from journeymine.journeys.change.compare import compare_periods, compare_segments
from journeymine.journeys.change.detect import detect_changes, scan_summary

__all__ = ["compare_periods", "compare_segments", "detect_changes", "scan_summary"]
