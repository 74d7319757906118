"""Training without labels: the prior, EM by sessions, expectations, and a model that says
so when the data cannot tell people apart."""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import product

import pytest

from app.bench.match_data import load_dataset
from app.domain.events import parse_event
from app.domain.matching import Decision, MatchRecord, clean_traits, estimate_m, estimate_prior
from app.domain.matching.comparisons import default_comparisons
from app.domain.matching.decisions import Basis
from app.domain.matching.em import Session
from app.domain.matching.household import KIN
from app.domain.matching.stream import pending_records
from app.domain.matching.training import met_pairs, sessions_of, train_matcher
from app.domain.rules import Rules
from app.synth import parse_shape, synth_data


def rec(record_id: str, **traits: object) -> MatchRecord:
    return clean_traits(record_id, traits).record


# -- the prior ------------------------------------------------------------------------------
M = (0.9, 0.85, 0.95)  # P(agree | match) per comparison
U = (0.01, 0.02, 0.001)  # P(agree | non-match)


def pattern_probability(pattern: tuple[int, ...], p: tuple[float, ...]) -> float:
    return math.prod(q if agree else 1 - q for agree, q in zip(pattern, p, strict=True))


@pytest.mark.parametrize("prior", [1e-5, 1e-4, 3e-3])
def test_a_known_prior_is_recovered_from_synthetic_scores(prior):
    """Pairs drawn from known m and u in the proportion `prior`: the pairs that agree on
    anything are the candidates, and their log2 likelihood ratios give back the prior."""
    total = 10_000_000
    rng = random.Random(5)
    ratios: list[float] = []
    for pattern in product((0, 1), repeat=3):
        if not any(pattern):
            continue  # no shared key: not a candidate (and never a match worth counting)
        llr = math.log2(pattern_probability(pattern, M) / pattern_probability(pattern, U))
        n_match = rng.gauss(1, 0.01) * total * prior * pattern_probability(pattern, M)
        n_other = total * (1 - prior) * pattern_probability(pattern, U)
        ratios += [llr] * round(n_match + n_other)
    assert estimate_prior(ratios, total) == pytest.approx(prior, rel=0.05)


def test_without_evidence_of_any_match_the_prior_is_tiny():
    assert estimate_prior([-20.0] * 1000, 1e6) < 1e-9
    assert estimate_prior([], 1e6) < 1e-9


# -- EM ---------------------------------------------------------------------------------------
def test_em_sessions_recover_m_while_leaving_out_what_each_rule_blocked_on():
    """Two sessions, each blocked on one comparison (its pairs all agree there): m of
    every comparison comes back from the session that could see it."""
    rng = random.Random(7)
    m_true = [(1.0, 0.9, 0.07, 0.03), (1.0, 0.8, 0.2), (1.0, 0.7, 0.3)]
    u_true = [(1.0, 0.01, 0.04, 0.95), (1.0, 0.1, 0.9), (1.0, 0.05, 0.95)]

    def draw(probs: list[tuple[float, ...]], blocked: int) -> tuple[int, ...]:
        levels = [rng.choices(range(1, len(p)), weights=p[1:])[0] for p in probs]
        levels[blocked] = 1  # the rule's pairs agree on what it blocks on
        return tuple(levels)

    sessions = []
    for blocked, share in ((0, 0.3), (2, 0.2)):
        patterns: Counter[tuple[tuple[int, ...], Basis]] = Counter()
        for _ in range(20_000):
            probs = m_true if rng.random() < share else u_true
            patterns[(draw(probs, blocked), Basis.STRANGERS)] += 1
        sessions.append(Session(f"rule{blocked}", patterns,
                                tuple(k != blocked for k in range(3))))
    start = [(1.0, 0.6, 0.2, 0.2), (1.0, 0.6, 0.4), (1.0, 0.6, 0.4)]
    result = estimate_m(sessions, u_true, start, kin_u=dict.fromkeys(KIN, [None] * 3))
    assert result.converged
    assert [s.share for s in result.sessions] == pytest.approx([0.3, 0.2], abs=0.02)
    for est, true in zip(result.m, m_true, strict=True):
        assert est == pytest.approx(true, abs=0.03)


def test_kin_pairs_count_for_the_kin_share_only_where_a_session_sees_the_first_name():
    """Pairs with one surname and one birth date are one person or twins, and only the
    first name tells which. A session keyed on the first name leaves it out: its twin-like
    pairs, selected for agreeing on the first name, look to it like any others, and
    their town (which twins who left home share less often) would pull the estimate
    down. The share comes from the sessions that see the first name."""
    rng = random.Random(5)
    u = [(1.0, 0.02, 0.98), (1.0, 0.01, 0.99), (1.0, 0.1, 0.9)]
    kin_u = {Basis.HOUSEMATES: [None, None, None],
             Basis.TWINS: [(1.0, 0.01, 0.99), None, (1.0, 0.5, 0.5)]}
    m_first, m_town = (0.95, 0.05), (0.9, 0.1)
    seeing: Counter[tuple[tuple[int, ...], Basis]] = Counter()
    for _ in range(2_000):
        one = rng.random() < 0.9
        first = 1 if rng.random() < (m_first[0] if one else 0.01) else 2
        town = 1 if rng.random() < (m_town[0] if one else 0.5) else 2
        seeing[((first, 1, town), Basis.TWINS)] += 1
    # keyed on the first name: every pair agrees on it, and these moved towns
    blind: Counter[tuple[tuple[int, ...], Basis]] = Counter({((1, 1, 2), Basis.TWINS): 2_000})
    sessions = [Session("surname_birth_date", seeing, (True, False, True)),
                Session("first_name", blind, (False, False, True))]
    start = [(1.0, 0.8, 0.2), (1.0, 0.8, 0.2), (1.0, 0.8, 0.2)]
    telling = {Basis.HOUSEMATES: [True, False, False], Basis.TWINS: [True, False, False]}
    share = estimate_m(sessions, u, start, kin_u=kin_u, telling=telling).kin.priors
    assert share[Basis.TWINS] == pytest.approx(0.9, abs=0.03)


# -- training end to end -------------------------------------------------------------------
def shape_records(shape: str) -> tuple[list[MatchRecord], dict[str, int]]:
    """The synthetic shape's records (one per event), and who each is about."""
    data = synth_data(parse_shape(shape))
    records, person = [], {}
    for event in data.trait_events:
        record_id = event["identifiers"][0]["value"]
        records.append(rec(record_id, **event["traits"]))
        person[record_id] = data.owner[event["event_id"]]
    return records, person


def test_training_on_names_and_birth_dates_estimates_the_prior_and_separates_people():
    records, person = shape_records("name_dob,people=1500,seed=3")
    matcher, report = train_matcher(records, random.Random(3))
    truth = Counter(person.values())
    true_pairs = sum(n * (n - 1) // 2 for n in truth.values())
    all_pairs = len(records) * (len(records) - 1) / 2
    assert report.health.usable and report.em_converged
    assert report.prior == pytest.approx(true_pairs / all_pairs, rel=0.3)
    names = [c.name for c in matcher.model.comparisons]
    m_first = matcher.model.m[names.index("first_name")]
    assert m_first[1] > 0.75 and m_first[-1] < 0.1  # exact is common, else rare
    model = matcher.model
    linked = [(p.new, p.old) for pairs in met_pairs(records, model, matcher.frequencies)
              for p in pairs
              if model.judge(p.new, p.old, p.facts, p.tf).decision is Decision.LINK]
    precision = sum(person[a] == person[b] for a, b in linked) / len(linked)
    assert precision > 0.98 and report.expectation.precision > 0.98
    assert len(linked) > 0.5 * true_pairs


@pytest.mark.parametrize("records,reason", [
    ([], "at least two records"),
    ([rec(f"r{i}", gender="f") for i in range(50)], "no trait tells"),
    ([rec(f"r{i}", last_name=f"name{i % 40}") for i in range(400)], "only last_name"),
    ([rec(f"r{i}", first_name="Anna", last_name="Jansen", birth_date="1980-01-01")
      for i in range(300)], "same value in most records"),
])
def test_data_that_cannot_tell_people_apart_trains_a_model_that_says_so(records, reason):
    matcher, report = train_matcher(records, random.Random(1))
    assert not report.health.usable
    assert any(reason in r for r in report.health.reasons), report.health.reasons
    assert matcher.model.health == report.health
    if len(records) >= 2:
        assert matcher.model.match(records[0], records[1]).decision is Decision.NONE
    assert report.expectation.links == 0 and report.expectation.review_items == 0


def stream_records(shape: str) -> tuple[list[MatchRecord], dict[str, str]]:
    """The trait-bearing records of a synthetic shape as the stream files them (each
    owned by an identifier, `type:value`), and who each is about."""
    data = load_dataset(f"synth:{shape}", 1, Rules())
    events = [parse_event(e).event for e in data.events]
    records = [p.record for p in pending_records(events, Rules()) if p.blocks]
    records = list({r.record_id: r for r in records}.values())
    return records, {row.key: str(row.entity) for row in data.rows}


def linked_pairs(matcher, records) -> list[tuple[str, str]]:
    model = matcher.model
    return [(p.new, p.old) for pairs in met_pairs(records, model, matcher.frequencies)
            for p in pairs
            if model.judge(p.new, p.old, p.facts, p.tf).decision is Decision.LINK]


def test_people_who_moved_house_still_match_on_the_rest():
    """Names, birth dates and addresses, a third of the people moving house: their
    records agree on everything but every part of the address. Weighed part by part the
    move sank them far below the review threshold; weighed once, the rest decides."""
    records, person = stream_records(
        "everything,details=name+birth_date+address,people=1200,movers=0.3,seed=3")
    matcher, report = train_matcher(records, random.Random(3))
    model = matcher.model
    move = [c.name for c in model.comparisons].index("address")
    by_id = {r.record_id: r for r in records}
    moved = [(a, b) for pairs in met_pairs(records, model, matcher.frequencies) for a, b in
             [(p.new, p.old) for p in pairs]
             if person[a] == person[b] and model.match(by_id[a], by_id[b]).vector[move] == 3]
    assert len(moved) > 30
    linked = set(linked_pairs(matcher, records))
    assert sum(pair in linked for pair in moved) > 0.8 * len(moved)
    assert sum(person[a] == person[b] for a, b in linked) / len(linked) > 0.99
    assert 0.05 < model.m[move][3] < 0.5  # the share of a person's pairs that moved away


def test_pairs_from_two_sources_get_the_prior_of_their_kinds():
    """A customer-data stream: a CRM, loyalty cards and web signups hold each person once.
    Training finds that two records of one kind are rarely one person and two of
    different kinds often are, and scores each pair from its kinds' prior."""
    records, person = stream_records("cdp,people=1200,seed=3")
    matcher, report = train_matcher(records, random.Random(3))
    model = matcher.model
    priors = model.kind_priors
    assert set(priors) >= {"crm_id|loyalty_id", "crm_id|crm_id", "loyalty_id|loyalty_id"}
    for kinds, p in priors.items():
        one, other = kinds.split("|")
        assert (p > model.prior) if one != other else (p < 0.5 * model.prior), kinds
    assert report.kind_priors == priors
    record = records[0]
    assert model.prior_weight_of("crm_id:a", "loyalty_id:b") == pytest.approx(
        math.log2(priors["crm_id|loyalty_id"] / (1 - priors["crm_id|loyalty_id"])))
    assert model.prior_weight_of("crm_id:a", "passport:b") == model.prior_weight
    assert model.prior_weight_of("crm_id:a", "crm_id:b", Basis.HOUSEMATES) != \
        model.prior_weight_of("crm_id:a", "crm_id:b")
    restored = type(matcher).from_json(matcher.to_json()).model
    assert restored.kind_priors == priors
    assert record.record_id.partition(":")[0] in {k for ks in priors for k in ks.split("|")}


def test_records_of_one_kind_keep_one_prior():
    records, _ = shape_records("name_dob,people=600,seed=3")
    matcher, report = train_matcher(records, random.Random(3))
    assert matcher.model.kind_priors == {} and report.kind_priors == {}


def test_pairs_that_share_an_e_mail_local_part_teach_nothing_about_names():
    """"j.bos@outlook" and "j.bos@hotmail" are as often two people named Bos as one:
    the sessions of the local-part keys must not learn how a person's names vary from
    pairs that the names' own letters brought together."""
    providers = ("outlook", "hotmail", "gmail", "live", "kpn", "ziggo", "icloud")
    records = [rec(f"r{i}", first_name="jeroen" if i % 2 else "jan", last_name="bos",
                   email=f"j.bos@{p}.example") for i, p in enumerate(providers)]
    comparisons = default_comparisons()
    names = [k for k, c in enumerate(comparisons) if c.trait in ("first_name", "last_name")]
    local = [s for s in sessions_of(records, comparisons, random.Random(1))
             if s.rule in ("email_user", "email_sound")]
    assert not any(s.active[k] for s in local for k in names)
