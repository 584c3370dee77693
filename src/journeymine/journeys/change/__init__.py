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
- **volumes**: events of an activity (Poisson) per customer active in the bin (any channel;
  an event tagged with a ``journey_id``, such as an outbound e-mail, does not make its
  customer active).

On each series it finds the interval of bins whose rate departs most from the rest of the
series (the maximum likelihood ratio over all intervals, an "epidemic" change-point scan),
keeping only departures that matter (Cohen's h >= ``min_effect``, rate ratio >= ``min_ratio``),
last at least ``min_duration`` and are consistent (most of their bins depart on their own, so
that one extreme bin cannot make a long interval look changed) and depart and return (the
bins just before and after are not changed the same way). The evidence is the
likelihood-ratio deviance (without the interval's most extreme bin) divided by the series'
overdispersion (Pearson chi-square of the baseline bins), and the p-value is
Bonferroni-corrected for the number of intervals scanned; detections are then found again on
the rest of the series (up to ``max_changes``), adjacent detections of the same direction are
merged, and Benjamini-Hochberg corrects over all series. Detections on the same channel
(``by`` group) that overlap in time are grouped into one ``incident``, ranked by evidence.
"""

from journeymine.journeys.change.compare import compare_periods, compare_segments
from journeymine.journeys.change.detect import detect_changes, scan_summary

__all__ = ["compare_periods", "compare_segments", "detect_changes", "scan_summary"]
