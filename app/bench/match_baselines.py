"""The baselines of `idgraph bench match`, on the same rows in the same run.

- Splink (DuckDB backend), configured the way its documentation's examples are, for the
  columns a data set has: comparisons from its comparison library, blocking on pairs of
  columns, the prior from deterministic rules with an assumed recall of 0.7, u from
  random pairs, m by EM on two or three blocking rules, clusters at match probability 0.95.
- recordlinkage's unsupervised ECM classifier on exact and Jaro-Winkler >= 0.85
  comparisons of the same columns, candidates from blocking on single columns; its links
  are clustered by connected components.

Both see what idgraph's matcher sees: a row's traits, e-mail and phone. Both need the
optional 'bench' dependencies (splink, recordlinkage, pandas).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from app.bench.match_data import Row
from app.bench.match_metrics import cluster_scores, components

SPLINK_CLUSTER_AT = 0.95
SPLINK_PRIOR_RECALL = 0.7
MIN_PRESENT = 0.01  # a column with fewer values is not in the data set


def _frame(rows: Sequence[Row]) -> Any:
    import pandas as pd

    frame = pd.DataFrame([{"unique_id": i, **r.columns} for i, r in enumerate(rows)])
    present = [c for c in frame.columns if c != "unique_id"
               and frame[c].notna().mean() >= MIN_PRESENT]
    for column in present:
        frame[column] = frame[column].astype("string").str.lower().str.strip()
    return frame[["unique_id", *present]], present


def run_splink(rows: Sequence[Row], seed: int) -> dict[str, Any]:
    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    started = time.perf_counter()
    frame, present = _frame(rows)
    has = set(present)
    comparisons = []
    for column in ("first_name", "last_name"):
        if column in has:
            comparisons.append(cl.NameComparison(column).configure(
                term_frequency_adjustments=True))
    if "birth_date" in has:
        comparisons.append(cl.DateOfBirthComparison("birth_date", input_is_string=True))
    for column in ("street", "address_line2"):
        if column in has:
            comparisons.append(cl.JaroWinklerAtThresholds(column, [0.9, 0.7]))
    for column in ("house_number", "state"):
        if column in has:
            comparisons.append(cl.ExactMatch(column))
    for column in ("postcode", "city"):
        if column in has:
            comparisons.append(cl.ExactMatch(column).configure(term_frequency_adjustments=True))
    if "email" in has:
        comparisons.append(cl.EmailComparison("email"))
    if "phone" in has:
        comparisons.append(cl.LevenshteinAtThresholds("phone", [1, 2]))

    def rules(*column_sets: tuple[str, ...]) -> list[Any]:
        return [block_on(*cols) for cols in column_sets if has.issuperset(cols)]

    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules(
            ("first_name", "last_name"), ("last_name", "birth_date"),
            ("first_name", "birth_date"), ("last_name", "postcode"), ("first_name", "postcode"),
            ("postcode", "house_number"), ("street", "house_number"), ("email",), ("phone",)),
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=logging.ERROR)
    deterministic = rules(("first_name", "last_name", "birth_date"),
                          ("first_name", "last_name", "postcode"), ("email",), ("phone",))
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(
            deterministic, recall=SPLINK_PRIOR_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for rule in rules(("first_name", "last_name"), ("birth_date",), ("postcode",),
                      ("email",))[:3]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, SPLINK_CLUSTER_AT).as_pandas_dataframe()
    label = dict(zip(clusters["unique_id"], clusters["cluster_id"], strict=True))
    labels = [label.get(i, f"alone-{i}") for i in range(len(rows))]
    scores = cluster_scores(labels, [r.entity for r in rows])
    return {"version": splink.__version__, "clusters_at": SPLINK_CLUSTER_AT,
            **scores, "seconds": round(time.perf_counter() - started, 1)}


def run_ecm(rows: Sequence[Row]) -> dict[str, Any]:
    import recordlinkage as rl

    started = time.perf_counter()
    frame, present = _frame(rows)
    frame = frame.set_index("unique_id")
    indexer = rl.Index()
    for column in ("first_name", "last_name", "birth_date", "postcode", "city", "email",
                   "phone"):
        if column in present:
            indexer.block(column)
    pairs = indexer.index(frame)
    compare = rl.Compare()
    for column in present:
        if column in ("first_name", "last_name", "street", "address_line2", "email"):
            compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
        else:
            compare.exact(column, column, label=column)
    features = compare.compute(pairs, frame)
    found = rl.ECMClassifier(binarize=None).fit_predict(features)
    links = [(int(a), int(b)) for a, b in found]
    labels = components(len(rows), links)
    return {**cluster_scores(labels, [r.entity for r in rows]), "candidate_pairs": len(pairs),
            "seconds": round(time.perf_counter() - started, 1)}
