"""Fuzzy matching of trait-bearing records (pure: no I/O, no clock, randomness passed in).

records.py      traits (and a record's e-mail and phone) -> a cleaned MatchRecord, with the
                problems of rejected traits
comparisons.py  comparisons per trait, composed of level objects (rapidfuzz)
blocking.py     blocking keys and the bounded candidate set of a new record
model.py        Fellegi-Sunter weights, term-frequency adjustment, probabilities, decisions
decisions.py    the vocabularies: decisions and guards
household.py    the guard that keeps members of one household (and twins) apart
em.py           u from random pairs, m by EM over one session per blocking rule, the prior
training.py     a matcher from records: model, prior, health, expectations at thresholds
matcher.py      the streaming step: one new record against its candidates
stream.py       the records of an ingest batch, matched in time order
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
from app.domain.matching.decisions import Decision, Guard
from app.domain.matching.em import estimate_m, estimate_prior, estimate_u
from app.domain.matching.household import guard_for
from app.domain.matching.matcher import MatchOutcome, match_new_record, score_candidates
from app.domain.matching.model import (
    ComparisonOutcome,
    Health,
    MatchModel,
    MatchResult,
    MatchSettings,
    ModelFormatError,
    untrained_model,
)
from app.domain.matching.records import (
    CleanedRecord,
    MatchRecord,
    TraitProblem,
    clean_traits,
)
from app.domain.matching.termfreq import TermFrequencies, tf_traits
from app.domain.matching.training import Matcher, TrainingReport, train_matcher

__all__ = [
    "BUCKET_LIMIT",
    "CANDIDATE_LIMIT",
    "DEFAULT_RULES",
    "BlockIndex",
    "BlockingRule",
    "CleanedRecord",
    "Comparison",
    "ComparisonOutcome",
    "Decision",
    "Guard",
    "Health",
    "MatchModel",
    "MatchOutcome",
    "MatchRecord",
    "MatchResult",
    "MatchSettings",
    "Matcher",
    "ModelFormatError",
    "TermFrequencies",
    "TrainingReport",
    "TraitProblem",
    "blocking_keys",
    "clean_traits",
    "default_comparisons",
    "estimate_m",
    "estimate_prior",
    "estimate_u",
    "guard_for",
    "match_new_record",
    "score_candidates",
    "select_candidates",
    "soundex",
    "tf_traits",
    "train_matcher",
    "untrained_model",
]
