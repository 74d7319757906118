"""Fuzzy matching of trait-bearing records (pure: no I/O, no clock, randomness passed in).

records.py      traits -> a cleaned MatchRecord, with the problems of rejected traits
comparisons.py  comparison levels per trait (rapidfuzz)
blocking.py     blocking keys and the bounded candidate set of a new record
model.py        Fellegi-Sunter weights, term-frequency adjustment, scores, decisions, JSON
household.py    the guard that keeps members of one household apart
em.py           u from random pairs, m by EM over candidate pairs
matcher.py      the streaming step: one new record against its candidates
termfreq.py     value counts per trait, for the term-frequency adjustment
"""

from app.domain.matching.blocking import (
    BUCKET_LIMIT,
    CANDIDATE_LIMIT,
    DEFAULT_RULES,
    BlockIndex,
    BlockingRule,
    blocking_keys,
    select_candidates,
    soundex,
)
from app.domain.matching.comparisons import Comparison, default_comparisons
from app.domain.matching.em import EmReport, estimate_m, estimate_u, train
from app.domain.matching.household import HOUSEHOLD, household_reason
from app.domain.matching.matcher import (
    OTHER_CUSTOMER,
    MatchOutcome,
    match_new_record,
    score_candidates,
)
from app.domain.matching.model import (
    LINK,
    LOWER,
    MERGE,
    NONE,
    REVIEW,
    UPPER,
    ComparisonOutcome,
    MatchModel,
    MatchResult,
    MatchSettings,
    untrained_model,
)
from app.domain.matching.records import (
    CleanedRecord,
    MatchRecord,
    TraitProblem,
    clean_traits,
)
from app.domain.matching.termfreq import TermFrequencies, tf_traits

__all__ = [
    "BUCKET_LIMIT",
    "CANDIDATE_LIMIT",
    "DEFAULT_RULES",
    "HOUSEHOLD",
    "LINK",
    "LOWER",
    "MERGE",
    "NONE",
    "OTHER_CUSTOMER",
    "REVIEW",
    "UPPER",
    "BlockIndex",
    "BlockingRule",
    "CleanedRecord",
    "Comparison",
    "ComparisonOutcome",
    "EmReport",
    "MatchModel",
    "MatchOutcome",
    "MatchRecord",
    "MatchResult",
    "MatchSettings",
    "TermFrequencies",
    "TraitProblem",
    "blocking_keys",
    "clean_traits",
    "default_comparisons",
    "estimate_m",
    "estimate_u",
    "household_reason",
    "match_new_record",
    "score_candidates",
    "select_candidates",
    "soundex",
    "tf_traits",
    "train",
    "untrained_model",
]
