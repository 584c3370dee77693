"""Persona figures: the profile heatmap (persona sizes over time and the migration Sankey:
:mod:`journeymine.report.persona_tracking`; the validity findings and tables:
:mod:`journeymine.report.validity`; both re-exported here)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.compat import renamed_keywords
from journeymine.exceptions import ConfigError
from journeymine.report._common import (
    DEFAULT_K,
    NO_PERSONA,
    check_frame,
    check_k,
    finish_figure,
    heatmap_figure,
    hidden_subtitle,
    persona_label,
    plotly_text,
)
from journeymine.report.persona_tracking import (
    describe_hard_pairs,
    persona_migration_data,
    persona_migration_figure,
    persona_sizes_data,
    persona_sizes_figure,
)
from journeymine.report.validity import persona_validity_findings, persona_validity_tables

__all__ = [
    "describe_hard_pairs",
    "persona_migration_data",
    "persona_migration_figure",
    "persona_profile_data",
    "persona_profile_figure",
    "persona_sizes_data",
    "persona_sizes_figure",
    "persona_validity_findings",
    "persona_validity_tables",
]

PROFILE_COLUMNS = ("persona", "name", "size", "feature", "effect")


# ---------------------------------------------------------------- profiles
def _profiles_frame(profiles: Any) -> pd.DataFrame:
    """Long frame ``persona, name, size, feature, effect`` from profiles.

    Accepts the long frame itself, a ``persona_profiles`` result (one row per persona, index
    ``persona``, with ``name``, ``size`` and ``top_features`` = list of ``(feature, d, ...)``),
    or a fitted ``PersonaMiner`` (its ``profiles_``).
    """
    profiles = getattr(profiles, "profiles_", profiles)
    if isinstance(profiles, pd.DataFrame) and all(c in profiles.columns for c in PROFILE_COLUMNS):
        return profiles.loc[:, list(PROFILE_COLUMNS)]
    if isinstance(profiles, pd.DataFrame) and {"name", "size", "top_features"} <= set(
        profiles.columns
    ):
        rows = []
        for persona, r in profiles.iterrows():
            for item in r["top_features"] or []:
                rows.append(
                    {
                        "persona": persona,
                        "name": str(r["name"]),
                        "size": int(r["size"]),
                        "feature": str(item[0]),
                        "effect": float(item[1]),
                    }
                )
            if not r["top_features"]:
                rows.append(
                    {
                        "persona": persona,
                        "name": str(r["name"]),
                        "size": int(r["size"]),
                        "feature": "",
                        "effect": np.nan,
                    }
                )
        return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))
    raise ConfigError(
        f"cannot read persona profiles from {type(profiles).__name__}: expected a fitted "
        f"PersonaMiner, persona_profiles() output (name, size, top_features) or a DataFrame "
        f"with columns {list(PROFILE_COLUMNS)} (one row per persona x distinguishing feature, "
        f"effect = standardised mean difference)."
    )


def _cohen_d(features: pd.DataFrame, labels: pd.Series, persona: Any, feature: str) -> float:
    """Cohen's d (pooled SD) of ``feature`` for ``persona`` against the other labelled
    customers (the definition ``persona_profiles`` uses)."""
    lab = labels[labels != NO_PERSONA]
    x = features.loc[lab.index, feature].to_numpy(dtype=float)
    inside = (lab == persona).to_numpy()
    a, b = x[inside], x[~inside]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(
        ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    )
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


@renamed_keywords(top="top_k")
def persona_profile_data(
    profiles: Any,
    *,
    top_k: int = 3,
    k: int = DEFAULT_K,
    features: pd.DataFrame | None = None,
    labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Persona x feature effect sizes for the heatmap: each persona's ``top_k`` most distinguishing
    features (largest ``|effect|``), for the union of those features across personas.

    Personas with fewer than ``k`` customers are removed (``attrs["hidden"]``). A persona x
    feature pair that is not among the persona's own top features is filled with Cohen's d
    computed from ``features`` and ``labels`` (taken from a fitted ``PersonaMiner`` when one is
    passed), else left NaN.

    Parameters
    ----------
    profiles : PersonaMiner, persona_profiles() output or long DataFrame
    top_k : int, default 3
        Features per persona.
    k : int, default 10
    features : DataFrame, optional
        Features per customer (index customer_id).
    labels : Series, optional
        Persona per customer (-1 = no persona).

    Returns
    -------
    DataFrame
        ``persona, name, size, feature, effect`` (missing persona x feature pairs have NaN
        effect).

    Examples
    --------
    >>> import pandas as pd
    >>> prof = pd.DataFrame({"persona": [0, 0, 1, 1], "name": ["App", "App", "Store", "Store"],
    ...     "size": [50, 50, 40, 40], "feature": ["app_share", "store_share"] * 2,
    ...     "effect": [2.1, -0.8, -1.0, 2.4]})
    >>> persona_profile_data(prof, top_k=1)["feature"].unique().tolist()
    ['app_share', 'store_share']
    """
    k = check_k(k)
    if features is None and labels is None:
        features = getattr(profiles, "features_", None)
        labels = getattr(profiles, "labels_", None)
    frame = _profiles_frame(profiles)
    frame = frame[frame["feature"].astype(str) != ""]
    sizes = frame.groupby("persona", sort=False)["size"].first()
    small = sizes.index[sizes.to_numpy() < k]
    hidden = len(small)
    frame = frame[~frame["persona"].isin(small)]
    frame = frame[frame["persona"] != NO_PERSONA]
    ranked = frame.assign(_abs=frame["effect"].abs()).sort_values(
        ["persona", "_abs"], ascending=[True, False], kind="stable"
    )
    chosen: list[str] = []
    for _, g in ranked.groupby("persona", sort=True):
        for f in g["feature"].head(top_k):
            if f not in chosen:
                chosen.append(str(f))
    meta = frame.groupby("persona", sort=True).agg(name=("name", "first"), size=("size", "first"))
    grid = pd.MultiIndex.from_product([meta.index, chosen], names=["persona", "feature"])
    eff = (
        frame.assign(feature=frame["feature"].astype(str))
        .drop_duplicates(["persona", "feature"])
        .set_index(["persona", "feature"])["effect"]
        .reindex(grid)
    )
    out = eff.reset_index().merge(meta.reset_index(), on="persona", how="left")
    out = out.loc[:, list(PROFILE_COLUMNS)]
    if isinstance(features, pd.DataFrame) and isinstance(labels, pd.Series):
        gaps = out["effect"].isna().to_numpy()
        out.loc[gaps, "effect"] = [
            _cohen_d(features, labels, p, f) if f in features.columns else np.nan
            for p, f in zip(out.loc[gaps, "persona"], out.loc[gaps, "feature"], strict=True)
        ]
    out.attrs.update({"k": k, "hidden": hidden})
    return out


def persona_profile_figure(
    data: pd.DataFrame,
    *,
    title: str = "What distinguishes each persona",
    subtitle: str | None = None,
) -> go.Figure:
    """Heatmap of effect sizes (standardised mean difference vs all other customers).

    Rows are personas (their customers in brackets), columns the features that set them
    apart; the colour scale is centred on 0 and symmetric.

    Parameters
    ----------
    data : DataFrame
        What :func:`persona_profile_data` returns: one row per persona x feature, ``persona,
        name, size, feature, effect``; rows (personas) and columns (features) keep its order,
        and a NaN effect leaves its cell blank.
    title : str, default "What distinguishes each persona"
    subtitle : str, optional
        Replaces the colour key (red = higher than other customers, blue = lower) and the
        count of personas hidden for privacy; ``""`` for none.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_profile_figure
    >>> data = pd.DataFrame({"persona": [0, 1], "name": ["App", "Store"], "size": [50, 40],
    ...                      "feature": ["app_share", "app_share"], "effect": [2.1, -1.0]})
    >>> persona_profile_figure(data).data[0].type
    'heatmap'
    """
    check_frame(
        data,
        PROFILE_COLUMNS,
        what="persona profile data",
        hint="Pass persona_profile_data() output.",
    )
    personas = list(dict.fromkeys(data["persona"]))
    features = list(dict.fromkeys(data["feature"].astype(str)))
    meta = data.drop_duplicates("persona").set_index("persona")
    z = (
        data.assign(feature=data["feature"].astype(str))
        .pivot_table(
            index="persona", columns="feature", values="effect", aggfunc="first", dropna=False
        )
        .reindex(index=personas, columns=features)
        .to_numpy(dtype=float)
    )
    ylab = [
        f"{plotly_text(persona_label(p, {p: meta.loc[p, 'name']}))} ({int(meta.loc[p, 'size']):,})"
        for p in personas
    ]
    xlab = [plotly_text(f).replace("_", " ").replace(":", ": ") for f in features]
    lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    text = [["" if not np.isfinite(v) else f"{v:+.1f}" for v in row] for row in z]
    fig = heatmap_figure(
        z,
        xlab,
        ylab,
        text,
        colorbar={"title": {"text": "effect (SD)"}},
        zmid=0,
        zmin=-lim,
        zmax=lim,
        colorscale="RdBu_r",
        hovertemplate="%{y}<br>%{x}: effect %{z:+.2f} SD vs other customers<extra></extra>",
    )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            "standardised mean difference of each feature vs all other customers "
            "(red = higher, blue = lower); customers per persona in brackets",
            data.attrs,
            "personas",
        ),
        height=max(360, 170 + 46 * len(personas)),
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(tickangle=-35, showgrid=False, title_text="feature")
    fig.update_yaxes(showgrid=False, title_text="persona")
    return fig
