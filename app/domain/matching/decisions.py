"""The vocabularies of matching decisions."""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    LINK = "link"  # a MATCHED link joins the two identifiers
    REVIEW = "review"  # a steward decides (the review queue)
    NONE = "none"  # nothing is recorded


class Guard(StrEnum):
    """Why a pair was kept from linking whatever its score."""

    HOUSEHOLD = "household"  # one address, first names and birth dates that clearly differ
    TWINS = "twins"  # one address and one birth date, first names that clearly differ
    OTHER_CUSTOMER = "other_customer"  # would tie a second customer on one record's strength


class Basis(StrEnum):
    """Whom a pair is weighed against: the other explanation of what its records share."""

    STRANGERS = "strangers"  # two records drawn at random
    HOUSEMATES = "housemates"  # records at one address
    TWINS = "twins"  # records with one surname and one birth date, not at one address
